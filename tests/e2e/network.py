"""A real network of node processes on loopback ports, for end-to-end tests.

The tests use the one running-network helper (`nodes.cluster.running`); this module keeps the
names the test modules import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain.presets import get_preset
from nodes.cluster.network import find_free_base_port, write_network
from nodes.cluster.running import RunningNetwork, start_network
from nodes.runtime.config import save_config

__all__ = ["RunningNetwork", "running_network"]


@contextmanager
def running_network(preset_name: str, data_dir: Path, latency: str = "none",
                    control: bool = False, base_port: int | None = None,
                    clock_skews_ms: dict[str, int] | None = None,
                    read_workers: dict[str, int] | None = None) -> Iterator[RunningNetwork]:
    """Start every node of a preset; stop them all afterwards.

    base_port: the first node's port (default: any free run of ports); clock_skews_ms: node id ->
    milliseconds added to that node's clock for block timestamps (`clock_skew_ms` in its
    node.toml); read_workers: node id -> read worker processes of that node (ADR 0021).

    control: the nodes accept the dashboard's control requests, and a supervisor (as with
    `yrdchain up --control`) stops and restarts them on request.
    """
    preset = get_preset(preset_name)
    members = None
    if clock_skews_ms or read_workers:
        port = base_port if base_port is not None else find_free_base_port(len(preset.nodes))
        members = write_network(preset, data_dir, port, latency, control=control,
                                read_workers=read_workers or 0)
        for member in members:
            skew_ms = (clock_skews_ms or {}).get(member.config.node_id, 0)
            if skew_ms:
                member.config = dataclasses.replace(member.config, clock_skew_ms=skew_ms)
                save_config(member.config, member.config_path)
    with start_network(preset, data_dir, base_port=base_port, latency=latency, control=control,
                       members=members) as network:
        yield network
