"""A node in its own process on a manual clock shared with its peers through a relay.

`RelayedNode` runs one `NodeRuntime` on in-memory ports whose transport and peer-block fetches
do not deliver anything themselves: they put envelopes in an outbox. A coordinator
(`nodes.runtime.relay_network`) carries the envelopes between the node processes and tells each
node how far its manual clock may run. Every envelope arrives one link delay (`DELAY_MS_LINK`)
after it was sent, so a coordinator that lets every node run up to the earliest pending event
of the whole network never hands a node something from its past: the nodes of one step run at
the same time on different cores, and the run is the same as on one process's `MemoryNetwork`
(deterministic up to the order of messages of one instant).

An envelope is a plain tuple (cheap to pickle over a pipe): `(to, at_ms, kind, body)` with
kind `frames` (body: channel, frame), `fetch` (body: requester, from height, limit, request
id) or `blocks` (body: request id, encoded committed blocks).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.consensus.state import ConsensusConfig
from chain.consensus.validators import ValidatorSet
from chain.genesis import Genesis
from chain.storage import BlockStore
from nodes.runtime.config import NodeConfig
from nodes.runtime.frames import encode_frames
from nodes.runtime.memory_ports import DELAY_MS_LINK, ManualClock, ManualScheduler, ManualTimers
from nodes.runtime.node import NodeRuntime
from nodes.runtime.ports import (
    BlocksReply,
    Channel,
    ImmediateProcessor,
    PeerReply,
    QuietObserver,
    RuntimePorts,
)
from nodes.storage.records import RecordStore

Envelope = tuple[str, float, str, tuple[Any, ...]]
"""(to node, arrival ms, kind, body)."""

KIND_FRAMES = "frames"
KIND_FETCH = "fetch"
KIND_BLOCKS = "blocks"


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What a node tells the coordinator after each command: what it sent, where it stands."""

    node_id: str
    outbox: list[Envelope]
    height: int
    state_root: bytes
    pending: int  # transactions in its mempool
    started: bool
    next_ms: float | None  # its earliest timer, None when it has none


@dataclass
class RelayTransport:
    """Frames to peers go to the outbox, to arrive one link delay from now."""

    node_id: str
    peers: list[str]
    clock: ManualClock
    outbox: list[Envelope]

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """One frame for one peer."""
        self.outbox.append((peer, self.clock.now + DELAY_MS_LINK, KIND_FRAMES, (channel, frame)))

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """One frame for every peer."""
        for peer in self.peers:
            self.send(peer, channel, frame)

    def connected_peers(self) -> list[str]:
        """Every peer (the coordinator fails the run when one is gone)."""
        return list(self.peers)


@dataclass
class RelayPeerBlocks:
    """Peers' heights as the coordinator last told them; blocks fetched through the outbox."""

    node_id: str
    clock: ManualClock
    outbox: list[Envelope]
    heights: dict[str, int] = field(default_factory=dict)
    replies: dict[int, BlocksReply] = field(default_factory=dict)
    next_request: int = 0

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """The peer with the highest head above `height`."""
        best = max(((peer_height, peer) for peer, peer_height in self.heights.items()
                    if peer != self.node_id and peer_height > height), default=None)
        reply(None if best is None else best[1])

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """Ask `peer` for its committed blocks; `reply` runs when they arrive."""
        self.next_request += 1
        self.replies[self.next_request] = reply
        self.outbox.append((peer, self.clock.now + DELAY_MS_LINK, KIND_FETCH,
                            (self.node_id, from_height, limit, self.next_request)))


class RelayedNode:
    """One node's runtime, stepped by a coordinator (`step`); everything it sends is returned."""

    def __init__(self, node_id: str, genesis: Genesis, validator_set: ValidatorSet,
                 config: NodeConfig, store: BlockStore, records: RecordStore,
                 consensus_config: ConsensusConfig, epoch_ms: int) -> None:
        self.node_id = node_id
        self.scheduler = ManualScheduler(ManualClock(epoch_ms=epoch_ms))
        self.outbox: list[Envelope] = []
        peers = [validator.node_id for validator in validator_set.validators
                 if validator.node_id != node_id]
        clock = self.scheduler.clock
        self.peer_blocks = RelayPeerBlocks(node_id, clock, self.outbox)
        ports = RuntimePorts(
            clock=clock, timers=ManualTimers(self.scheduler),
            transport=RelayTransport(node_id, peers, clock, self.outbox),
            peer_blocks=self.peer_blocks, block_store=store, record_store=records,
            processor=ImmediateProcessor(), observer=QuietObserver(), adaptive_proposals=False)
        self.runtime = NodeRuntime(config, genesis, validator_set, ports, consensus_config)

    def run(self, work: Callable[[], Any]) -> tuple[Any, NodeReport]:
        """Do `work` now (a submission, a read) and report."""
        return work(), self.report()

    def step(self, until_ms: float, heights: dict[str, int],
             incoming: list[Envelope]) -> NodeReport:
        """Take in what arrived, run every timer due up to `until_ms`, and report."""
        self.peer_blocks.heights = heights
        for envelope in incoming:
            self.scheduler.at(envelope[1], self._arrival(envelope))
        scheduler = self.scheduler
        while scheduler.queue and scheduler.queue[0][0] <= until_ms:
            at_ms, _, callback = heapq.heappop(scheduler.queue)
            scheduler.clock.now = max(scheduler.clock.now, at_ms)
            callback()
        scheduler.clock.now = max(scheduler.clock.now, until_ms)
        return self.report()

    def _arrival(self, envelope: Envelope) -> Callable[[], None]:
        _, at_ms, kind, body = envelope
        runtime = self.runtime
        if kind == KIND_FRAMES:
            channel, frame = body

            def arrive() -> None:
                runtime.receive_frames(channel, encode_frames([frame]))
            return arrive
        if kind == KIND_FETCH:
            requester, from_height, limit, request = body
            return lambda: self.outbox.append(
                (requester, at_ms + DELAY_MS_LINK, KIND_BLOCKS,
                 (request, runtime.committed_blocks(from_height, limit))))
        request, blocks = body
        return lambda: self.peer_blocks.replies.pop(request)(blocks)

    def report(self) -> NodeReport:
        """Hand over the outbox and say where the node stands."""
        outbox = list(self.outbox)
        self.outbox.clear()
        queue = self.scheduler.queue
        head = self.runtime.ledger.head
        return NodeReport(self.node_id, outbox, head.height, head.state_root,
                          len(self.runtime.ledger.mempool), self.runtime.started,
                          queue[0][0] if queue else None)

