"""One running-network helper: start a preset's network here, or attach to one given by URLs.

Everything that needs a live network — `yrdchain up`, the demo, the end-to-end tests, the
commit and query benchmarks and the data-set loader — goes through `start_network` or
`attach_network`, and gets the same `RunningNetwork`: the preset, each node's id, city and URL,
and (for a network started here) the node processes.

- `start_network(preset, data_dir, …)` writes each node's `node.toml`, starts one process per
  node (and, with `control`, the supervisor), waits until every node answers `/status`, and
  stops them all on the way out — also when the body raises or the process is interrupted.
- `attach_network(urls)` reads `/status` of each URL (waiting until it answers): the chain id,
  node id, city and preset name. The URLs must all belong to one chain. Nothing is stopped on
  the way out: the network belongs to whoever started it (`yrdchain up`, Compose, Kubernetes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from chain.genesis import Genesis, build_genesis
from chain.presets import Preset, get_preset
from nodes.cluster.network import (
    READY_TIMEOUT_S,
    NetworkProcess,
    find_free_base_port,
    start_node,
    stop_node,
    wait_ready,
    write_network,
)
from nodes.cluster.stop_signals import uninterrupted
from nodes.cluster.supervisor import Supervisor

ATTACH_TIMEOUT_S = 300.0  # a network from Compose or Kubernetes may still be pulling images
ATTACH_POLL_S = 1.0
WAIT_POLL_S = 0.25
HTTP_TIMEOUT_S = 10.0

ReadyListener = Callable[[str, int, int], None]
"""Told (node id, nodes ready so far, nodes in all) each time one more node answers."""


class TargetError(RuntimeError):
    """The URLs given as a target do not describe one reachable network."""


@dataclass(frozen=True, slots=True)
class NetworkNode:
    """One node of a running network, as its `/status` describes it."""

    node_id: str
    city: str
    url: str


@dataclass(eq=False)
class RunningNetwork:
    """A live network: its preset and nodes, and its processes when this program started it."""

    preset: Preset
    nodes: tuple[NetworkNode, ...]
    data_dir: Path | None = None
    members: list[NetworkProcess] = field(default_factory=list)
    supervisor: Supervisor | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT_S))

    @property
    def started_here(self) -> bool:
        """Whether this program runs the node processes (otherwise it only attached)."""
        return bool(self.members)

    @cached_property
    def genesis(self) -> Genesis:
        """The preset's genesis (built on first use: contract addresses, chain id)."""
        return build_genesis(self.preset)

    @property
    def node_ids(self) -> list[str]:
        """Every node id, in the order given."""
        return [node.node_id for node in self.nodes]

    def urls(self) -> dict[str, str]:
        """Node id -> base URL."""
        return {node.node_id: node.url for node in self.nodes}

    def url(self, node_id: str) -> str:
        """Base URL of a node."""
        return self.urls()[node_id]

    def home_urls(self) -> dict[str, str]:
        """The first node of each city: where that city's institutions send requests."""
        homes: dict[str, str] = {}
        for node in self.nodes:
            homes.setdefault(node.city, node.url)
        return homes

    def status(self, node_id: str) -> dict[str, Any]:
        """GET /status of a node."""
        response = self.client.get(f"{self.url(node_id)}/status")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def member(self, node_id: str) -> NetworkProcess:
        """The process handle of a node started here."""
        return next(m for m in self.members if m.config.node_id == node_id)

    def kill(self, node_id: str) -> None:
        """SIGKILL a node started here."""
        stop_node(self.member(node_id), kill=True)

    def stop(self, node_id: str) -> None:
        """SIGTERM a node started here and wait for it."""
        stop_node(self.member(node_id))

    def start(self, node_id: str) -> None:
        """Start a stopped node again from its node.toml and wait until it answers."""
        member = self.member(node_id)
        start_node(member, self.log_dir)
        wait_ready([member])

    @property
    def log_dir(self) -> Path | None:
        """Where the node processes started here write their logs."""
        return None if self.data_dir is None else self.data_dir / "logs"

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float = 60.0,
                 what: str = "condition") -> None:
        """Poll until `predicate()` is true; AssertionError naming `what` otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(WAIT_POLL_S)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _nodes_of(members: Sequence[NetworkProcess], preset: Preset) -> tuple[NetworkNode, ...]:
    return tuple(NetworkNode(m.config.node_id, preset.node(m.config.node_id).city.value,
                             m.config.url) for m in members)


@contextmanager
def start_network(preset: Preset, data_dir: Path, base_port: int | None = None,
                  latency: str = "none", control: bool = False,
                  supervisor_port: int = 0,
                  members: list[NetworkProcess] | None = None,
                  on_ready: ReadyListener | None = None,
                  ready_timeout_s: float = READY_TIMEOUT_S,
                  execution: str = "native", read_workers: int | Mapping[str, int] = 0
                  ) -> Iterator[RunningNetwork]:
    """Start every node of `preset` as a process; stop them all on the way out.

    base_port: node i listens on base + i (default: a free block of loopback ports).
    control: the nodes accept the dashboard's control requests and a supervisor (listening on
    `supervisor_port`, 0 for any free port) stops and restarts them on request.
    members: already written configurations (a restored snapshot) instead of writing them.
    execution: the engine every node runs (`native`, or `evm` for the reference engine).
    read_workers: worker processes serving signed reports, per node or by node id (ADR 0021).
    """
    if members is None:
        port = base_port if base_port is not None else find_free_base_port(len(preset.nodes))
        members = write_network(preset, data_dir, port, latency, control=control,
                                execution=execution, read_workers=read_workers)
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    network = RunningNetwork(preset, _nodes_of(members, preset), data_dir, members)
    try:
        for member in members:
            with uninterrupted():  # the handle is kept before a stop signal is raised
                start_node(member, log_dir)
        if control:
            network.supervisor = Supervisor(members, data_dir, log_dir)
            network.supervisor.serve(supervisor_port)
        wait_ready(members, ready_timeout_s, on_ready=on_ready)
        yield network
    finally:
        stop_network(network)


def stop_network(network: RunningNetwork) -> None:
    """Stop the supervisor and every node process started here; close the HTTP client."""
    if network.supervisor is not None:
        network.supervisor.close()
        network.supervisor = None
    for member in network.members:
        stop_node(member)
    network.client.close()


def read_target(urls: Sequence[str], timeout_s: float = ATTACH_TIMEOUT_S,
                on_ready: ReadyListener | None = None) -> tuple[Preset, tuple[NetworkNode, ...]]:
    """The preset and nodes behind `urls`, from their `/status` (waiting until each answers)."""
    if not urls:
        raise TargetError("give at least one node URL")
    deadline = time.monotonic() + timeout_s
    statuses: list[dict[str, Any]] = []
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        for url in urls:
            statuses.append(_status_when_up(client, url.rstrip("/"), deadline))
            if on_ready is not None:
                on_ready(str(statuses[-1].get("node_id")), len(statuses), len(urls))
    return _describe(urls, statuses)


def _status_when_up(client: httpx.Client, url: str, deadline: float) -> dict[str, Any]:
    while True:
        try:
            response = client.get(f"{url}/status")
            if response.status_code == 200:
                document = response.json()
                if isinstance(document, dict):
                    return document
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TargetError(f"{url}/status did not answer in time")
        time.sleep(ATTACH_POLL_S)


def _describe(urls: Sequence[str], statuses: list[dict[str, Any]]) -> tuple[
        Preset, tuple[NetworkNode, ...]]:
    chains = {(status.get("preset"), status.get("chain_id")) for status in statuses}
    if len(chains) != 1:
        raise TargetError(f"the URLs belong to different chains: {sorted(map(str, chains))}")
    preset_name, chain_id = next(iter(chains))
    try:
        preset = get_preset(str(preset_name))
    except KeyError as error:
        raise TargetError(f"unknown preset {preset_name!r} at {urls[0]}") from error
    if preset.chain_id != chain_id:
        raise TargetError(f"{urls[0]} reports chain id {chain_id}, preset {preset.name} has "
                          f"{preset.chain_id}")
    nodes = tuple(NetworkNode(str(status["node_id"]), str(status["city"]), url.rstrip("/"))
                  for url, status in zip(urls, statuses, strict=True))
    seen = [node.node_id for node in nodes]
    if len(set(seen)) != len(seen):
        raise TargetError(f"a node is given twice: {seen}")
    return preset, nodes


@contextmanager
def attach_network(urls: Sequence[str], timeout_s: float = ATTACH_TIMEOUT_S,
                   on_ready: ReadyListener | None = None) -> Iterator[RunningNetwork]:
    """A network someone else runs, described by its nodes' `/status`; left running."""
    preset, nodes = read_target(urls, timeout_s, on_ready)
    network = RunningNetwork(preset, nodes)
    try:
        yield network
    finally:
        network.client.close()


@contextmanager
def network_for(target: Sequence[str] | None, preset_name: str, data_dir: Path,
                latency: str = "none") -> Iterator[RunningNetwork]:
    """Attach to `target` when URLs are given, otherwise start the preset in `data_dir`."""
    if target:
        with attach_network(target) as attached:
            yield attached
    else:
        with start_network(get_preset(preset_name), data_dir, latency=latency) as started:
            yield started
