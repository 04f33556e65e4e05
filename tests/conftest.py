"""Session fixtures shared by the test tree: the local4 preset and its genesis (built once)."""

from __future__ import annotations

import pytest

from chain.genesis import Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import Preset, get_preset
from chain.storage import MemoryBlockStore


@pytest.fixture(scope="session")
def preset() -> Preset:
    """The four-node test network."""
    return get_preset("local4")


@pytest.fixture(scope="session")
def genesis(preset: Preset) -> Genesis:
    """Genesis of local4 (about a second to build, so once per session)."""
    return build_genesis(preset)


@pytest.fixture
def ledger(genesis: Genesis) -> Ledger:
    """A fresh ledger at genesis over an in-memory store."""
    return Ledger(MemoryBlockStore(), genesis)
