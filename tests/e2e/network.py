"""A real network of node processes on loopback ports, for end-to-end tests.

The tests use the one running-network helper (`nodes.cluster.running`); this module keeps the
names the test modules import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain.presets import get_preset
from nodes.cluster.running import RunningNetwork, start_network

__all__ = ["RunningNetwork", "running_network"]


@contextmanager
def running_network(preset_name: str, data_dir: Path, latency: str = "none",
                    control: bool = False) -> Iterator[RunningNetwork]:
    """Start every node of a preset; stop them all afterwards.

    control: the nodes accept the dashboard's control requests, and a supervisor (as with
    `yrdchain up --control`) stops and restarts them on request.
    """
    with start_network(get_preset(preset_name), data_dir, latency=latency,
                       control=control) as network:
        yield network
