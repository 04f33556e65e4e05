"""A real network of node processes on loopback ports, for end-to-end tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chain.genesis import Genesis, build_genesis
from chain.presets import Preset, get_preset
from nodes.cluster.network import (
    NetworkProcess,
    find_free_base_port,
    start_node,
    stop_node,
    wait_ready,
    write_network,
)
from nodes.cluster.supervisor import Supervisor
from nodes.runtime.config import save_config


@dataclass
class RunningNetwork:
    """Handles on a running network: its preset, genesis, node processes and an HTTP client."""

    preset: Preset
    genesis: Genesis
    data_dir: Path
    members: list[NetworkProcess]
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    def url(self, node_id: str) -> str:
        """Base URL of a node."""
        return self.member(node_id).config.url

    def member(self, node_id: str) -> NetworkProcess:
        """The process handle of a node."""
        return next(m for m in self.members if m.config.node_id == node_id)

    @property
    def node_ids(self) -> list[str]:
        """Every node id, in preset order."""
        return [m.config.node_id for m in self.members]

    def status(self, node_id: str) -> dict[str, Any]:
        """GET /status of a node."""
        response = self.client.get(f"{self.url(node_id)}/status")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def kill(self, node_id: str) -> None:
        """SIGKILL a node."""
        stop_node(self.member(node_id), kill=True)

    def stop(self, node_id: str) -> None:
        """SIGTERM a node and wait for it."""
        stop_node(self.member(node_id))

    def start(self, node_id: str) -> None:
        """Start a stopped node again from its node.toml and wait until it answers."""
        member = self.member(node_id)
        start_node(member, self.data_dir / "logs")
        wait_ready([member])

    def wait_for(self, predicate: Any, timeout_s: float = 60.0, what: str = "condition") -> None:
        """Poll until `predicate()` is true; AssertionError naming `what` otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@contextmanager
def running_network(preset_name: str, data_dir: Path, latency: str = "none",
                    control: bool = False, base_port: int | None = None,
                    clock_skews_ms: dict[str, int] | None = None) -> Iterator[RunningNetwork]:
    """Start every node of a preset; stop them all afterwards.

    base_port: the first node's port (default: any free run of ports); clock_skews_ms: node id ->
    milliseconds added to that node's clock.

    control: the nodes accept the dashboard's control requests, and a supervisor (as with
    `yrdchain up --control`) stops and restarts them on request.
    """
    preset = get_preset(preset_name)
    base = base_port if base_port is not None else find_free_base_port(len(preset.nodes))
    members = write_network(preset, data_dir, base, latency, control=control)
    for member in members:
        skew_ms = (clock_skews_ms or {}).get(member.config.node_id, 0)
        if skew_ms:
            member.config = dataclasses.replace(member.config, clock_skew_ms=skew_ms)
            save_config(member.config, member.config_path)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    network = RunningNetwork(preset, build_genesis(preset), data_dir, members)
    supervisor = Supervisor(members, data_dir, data_dir / "logs") if control else None
    try:
        for member in members:
            start_node(member, data_dir / "logs")
        if supervisor is not None:
            supervisor.serve()
        wait_ready(members)
        yield network
    finally:
        if supervisor is not None:
            supervisor.close()
        for member in members:
            stop_node(member)
        network.client.close()
