"""Fixtures that start real node processes (slow: marked `slow`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.network import RunningNetwork, running_network


@pytest.fixture(scope="module")
def local4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNetwork]:
    """A local4 network of four node processes, shared by a test module."""
    data_dir: Path = tmp_path_factory.mktemp("local4")
    with running_network("local4", data_dir) as network:
        yield network
