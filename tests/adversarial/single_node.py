"""One real node process (local4's first node, its peers absent) on a fixed loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain.presets import get_preset
from nodes.cluster.network import NetworkProcess, start_node, stop_node, wait_ready, write_network


@contextmanager
def single_node(data_dir: Path, base_port: int, control: bool = False) -> Iterator[
        NetworkProcess]:
    """Start the first node of local4 on `base_port` (the others are configured, not started)."""
    members = write_network(get_preset("local4"), data_dir, base_port, "none", control=control)
    member = members[0]
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    start_node(member, data_dir / "logs")
    try:
        wait_ready([member])
        yield member
    finally:
        stop_node(member)
