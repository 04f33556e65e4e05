"""Real node processes of local4 on fixed loopback ports: one node alone, or all but one.

`single_node` starts local4's first node with its peers absent (it commits nothing);
`network_without` starts every node but one, a quorum that keeps committing while a client
holding the absent node's certificate and key may speak on the peer channel in its place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain.presets import get_preset
from nodes.cluster.network import NetworkProcess, start_node, stop_node, wait_ready, write_network

PRESET_NAME = "local4"


@contextmanager
def single_node(data_dir: Path, base_port: int, control: bool = False) -> Iterator[
        NetworkProcess]:
    """Start the first node of local4 on `base_port` (the others are configured, not started)."""
    members = write_network(get_preset(PRESET_NAME), data_dir, base_port, "none",
                            control=control)
    member = members[0]
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    start_node(member, data_dir / "logs")
    try:
        wait_ready([member])
        yield member
    finally:
        stop_node(member)


@contextmanager
def network_without(data_dir: Path, base_port: int, absent: str) -> Iterator[
        dict[str, NetworkProcess]]:
    """Start every node of local4 but `absent` (node id -> process); stop them afterwards.

    Node i listens on `base_port + i` and on the peer channel at `base_port + 4 + i`.
    """
    members = write_network(get_preset(PRESET_NAME), data_dir, base_port, "none")
    running = {m.config.node_id: m for m in members if m.config.node_id != absent}
    if len(running) == len(members):
        raise ValueError(f"{absent} is not a node of {PRESET_NAME}")
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    try:
        for member in running.values():
            start_node(member, data_dir / "logs")
        wait_ready(list(running.values()))
        yield running
    finally:
        for member in running.values():
            stop_node(member)
