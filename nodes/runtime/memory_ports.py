"""In-memory twins of the runtime's ports: a manual clock and timers, an in-process network.

`MemoryNetwork` runs several `NodeRuntime`s in one process on one manual clock: frames between
them are delivered in order when the clock is advanced, blocks are fetched straight from the
peer runtime, and `run_until` fires timers and deliveries in (time, sequence) order, so a run is
deterministic. Tests use it to drive the real runtime with the real ledger without processes,
sockets or wall-clock waits; a single runtime on it (no peers) serves the API tests.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chain.consensus.state import ConsensusConfig
from chain.consensus.validators import ValidatorSet
from chain.genesis import Genesis
from chain.presets import GENESIS_TIMESTAMP_MS
from chain.storage import MemoryBlockStore
from nodes.runtime.config import NodeConfig
from nodes.runtime.frames import encode_frames
from nodes.runtime.node import NodeRuntime
from nodes.runtime.ports import (
    BlocksReply,
    Channel,
    ImmediateProcessor,
    PeerReply,
    QuietObserver,
    RuntimePorts,
)
from nodes.storage.records import MemoryRecordStore, RecordStore

DELAY_MS_LINK = 1
"""One-way delay of every in-memory link."""

DATA_DIR_NONE = Path("/nonexistent/in-memory-node")
"""An in-memory node keeps nothing on disk."""


@dataclass
class ManualClock:
    """Time that moves only when told to; chain time counts from `epoch_ms` (the preset's genesis
    timestamp unless told otherwise)."""

    now: float = 0.0
    epoch_ms: int = GENESIS_TIMESTAMP_MS

    def now_ms(self) -> int:
        """The current manual time."""
        return int(self.now)

    def chain_ms(self) -> int:
        """The manual time after the epoch."""
        return self.epoch_ms + int(self.now)

    def monotonic_s(self) -> float:
        """The same time in seconds."""
        return self.now / 1000


@dataclass
class ManualScheduler:
    """One heap of (time, sequence, callback) for every twin on one clock."""

    clock: ManualClock = field(default_factory=ManualClock)
    queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    sequence: int = 0

    def at(self, at_ms: float, callback: Callable[[], None]) -> None:
        """Run `callback` at `at_ms` (not before now)."""
        self.sequence += 1
        heapq.heappush(self.queue, (max(at_ms, self.clock.now), self.sequence, callback))

    def run_until(self, end_ms: float, done: Callable[[], bool] = lambda: False) -> bool:
        """Fire everything due up to `end_ms`; stop early once `done()`; whether it was."""
        while self.queue and self.queue[0][0] <= end_ms:
            if done():
                return True
            at_ms, _, callback = heapq.heappop(self.queue)
            self.clock.now = max(self.clock.now, at_ms)
            callback()
        if not done():
            self.clock.now = max(self.clock.now, end_ms)
        return done()


@dataclass
class ManualTimers:
    """One runtime's timers on a shared scheduler; cancelled as a group when it halts."""

    scheduler: ManualScheduler
    generation: int = 0

    def call_at(self, at_ms: float, callback: Callable[[], None]) -> None:
        """Run `callback` at `at_ms` unless cancelled before."""
        generation = self.generation
        self.scheduler.at(at_ms, lambda: generation == self.generation and callback())

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` after the current one, at the same time."""
        self.call_at(self.scheduler.clock.now, callback)

    def cancel_all(self) -> None:
        """Forget every pending callback."""
        self.generation += 1


@dataclass
class MemoryTransport:
    """Frames go to the peer runtime's `receive_frames` DELAY_MS_LINK later (unless cut)."""

    node_id: str
    network: MemoryNetwork
    cut: set[str] = field(default_factory=set)

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """Deliver a frame to one peer unless the link is cut or the peer is down."""
        if peer not in self.cut:
            self.network.deliver(self.node_id, peer, channel, frame)

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Deliver a frame to every other node."""
        for peer in self.network.runtimes:
            if peer != self.node_id:
                self.send(peer, channel, frame)

    def connected_peers(self) -> list[str]:
        """Every other node that is up."""
        return sorted(p for p in self.network.runtimes if p != self.node_id and p not in self.cut)


@dataclass
class MemoryPeerBlocks:
    """Blocks straight from the peer runtimes of the same network."""

    node_id: str
    network: MemoryNetwork

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """The live peer with the highest head above `height`."""
        best = max(((r.ledger.head.height, peer) for peer, r in self.network.runtimes.items()
                    if peer != self.node_id and r.ledger.head.height > height), default=None)
        reply(None if best is None else best[1])

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """The peer's committed blocks, answered after one link delay."""
        source = self.network.runtimes.get(peer)
        frames = [] if source is None else source.committed_blocks(from_height, limit)
        self.network.scheduler.at(self.network.scheduler.clock.now + DELAY_MS_LINK,
                                  lambda: reply(frames))


@dataclass
class MemoryNetwork:
    """Runtimes of one preset in one process, on one manual clock."""

    genesis: Genesis
    validator_set: ValidatorSet
    scheduler: ManualScheduler = field(default_factory=ManualScheduler)
    runtimes: dict[str, NodeRuntime] = field(default_factory=dict)
    stores: dict[str, MemoryBlockStore] = field(default_factory=dict)

    def deliver(self, sender: str, peer: str, channel: Channel, frame: bytes) -> None:
        """Hand a frame to `peer` one link delay from now (dropped if it is down then)."""
        def arrive() -> None:
            runtime = self.runtimes.get(peer)
            if runtime is not None:
                runtime.receive_frames(channel, encode_frames([frame]))
        self.scheduler.at(self.scheduler.clock.now + DELAY_MS_LINK, arrive)

    def boot(self, node_id: str, consensus_config: ConsensusConfig | None = None) -> NodeRuntime:
        """Start (or restart from its store) one node and its catch-up."""
        store = self.stores.setdefault(node_id, MemoryBlockStore())
        runtime = memory_runtime(self, node_id, store, consensus_config)
        self.runtimes[node_id] = runtime
        runtime.start()
        return runtime

    def crash(self, node_id: str) -> None:
        """Stop one node; its store stays for a restart."""
        runtime = self.runtimes.pop(node_id, None)
        if runtime is not None:
            runtime.halt()


def memory_runtime(network: MemoryNetwork, node_id: str, store: MemoryBlockStore | None = None,
                   consensus_config: ConsensusConfig | None = None,
                   data_dir: Path = DATA_DIR_NONE,
                   record_store: RecordStore | None = None) -> NodeRuntime:
    """A runtime of `network` on in-memory ports (not started); payloads in `record_store`
    (default: in memory)."""
    preset = network.genesis.preset
    config = NodeConfig(node_id, preset.name, data_dir, "127.0.0.1", 0)
    ports = RuntimePorts(
        clock=network.scheduler.clock, timers=ManualTimers(network.scheduler),
        transport=MemoryTransport(node_id, network),
        peer_blocks=MemoryPeerBlocks(node_id, network),
        block_store=store if store is not None else MemoryBlockStore(),
        record_store=record_store if record_store is not None else MemoryRecordStore(),
        processor=ImmediateProcessor(),
        observer=QuietObserver(), adaptive_proposals=False)
    return NodeRuntime(config, network.genesis, network.validator_set, ports, consensus_config)
