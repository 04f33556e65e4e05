"""The ports of a node's runtime: everything it needs from the world, as small Protocols.

`NodeRuntime` (nodes/runtime/node.py) is one driver of the consensus state machine and the
ledger; it reaches time, the network, peers' blocks and the machine's CPU only through these
ports. A real process plugs in the asyncio ones (nodes/runtime/asyncio_ports.py, with the HTTP
peer channels of nodes/runtime/peer_channels.py and the LMDB stores of nodes/storage); the simulator
plugs in virtual time, its simulated network and a CPU cost model (simulator/host.py); tests use
the in-memory twins of nodes/runtime/memory_ports.py. Each port is message-shaped and
callback-based, so the runtime never awaits and never imports asyncio, time or an HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chain.consensus.actions import Report
from chain.execution import Executor
from chain.ledger import CommittedBlock, Ledger
from chain.storage import BlockStore
from chain.transactions import AdmittedTransaction, Mapper
from nodes.storage.records import RecordStore

Channel = str
"""A peer channel: "consensus" (signed consensus messages) or "transactions" (gossip)."""

CHANNEL_CONSENSUS: Channel = "consensus"
CHANNEL_TRANSACTIONS: Channel = "transactions"


class Clock(Protocol):
    """The node's clock."""

    def now_ms(self) -> int:
        """Local milliseconds: consensus timers and event times."""

    def chain_ms(self) -> int:
        """Unix milliseconds as this node reads them: the timestamp of a block it proposes and
        the clock it checks a fresh proposal against (chain.chain_time's drift rule). A real
        process reads the machine's clock, shifted by its configured skew (a fault); virtual
        clocks count from the genesis timestamp."""

    def monotonic_s(self) -> float:
        """Seconds on a clock that never goes back: commit latencies and work durations."""


class Timers(Protocol):
    """Callbacks at a local time, run on the runtime's one thread."""

    def call_at(self, at_ms: float, callback: Callable[[], None]) -> None:
        """Run `callback` once the node's clock reads `at_ms` (at once if it already does)."""

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` after the current turn (peer frames: the sender is not held)."""

    def cancel_all(self) -> None:
        """Forget every pending callback (the runtime stops)."""


class Transport(Protocol):
    """Sends frames to peers by node id; what arrives is handed to `NodeRuntime.receive_*`."""

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """Queue a frame for one peer."""

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Queue a frame for every peer."""

    def connected_peers(self) -> list[str]:
        """Peers the last exchange with succeeded."""


BlocksReply = Callable[[list[bytes]], None]
"""Encoded committed blocks (with certificates), oldest first; empty when the peer failed."""

PeerReply = Callable[[str | None], None]
"""The peer to catch up from, or None when no reachable peer is ahead."""


class PeerBlocks(Protocol):
    """Committed blocks fetched from peers (catch-up at start, sync when consensus asks)."""

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """Find the reachable peer furthest ahead of `height`."""

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """Fetch up to `limit` committed blocks of `peer` from `from_height`."""


class TransactionJournal(Protocol):
    """Where acknowledged client transactions are kept until they commit (a crash of every node
    loses none of them): the real one is nodes/runtime/pending.py over the group-commit journal."""

    def record(self, admitted: AdmittedTransaction) -> None:
        """Journal a transaction the node just acknowledged."""

    def restore(self, ledger: Ledger) -> list[AdmittedTransaction]:
        """Re-admit what a crash left pending; what was committed meanwhile is dropped."""

    def on_commit(self, committed: CommittedBlock) -> None:
        """Forget the transactions a block committed."""

    async def durable(self) -> None:
        """Return once every recorded transaction is on disk."""


class Processor(Protocol):
    """The machine's CPU as the runtime sees it: when the work it just did is finished.

    A real process has done the work when the call returns: every method answers None (now).
    The simulator models one core per node: work queues behind earlier work, and the answer is
    the local time at which the result is ready.
    """

    def spend_block(self, transactions: int) -> float | None:
        """A block of `transactions` was built, executed or appended: local ms when done."""

    def spend_message(self) -> None:
        """A consensus message was received."""

    def spend_transaction(self) -> None:
        """A transaction was admitted."""


class RuntimeObserver(Protocol):
    """Who watches a runtime from outside (the simulator's metrics and invariant checker)."""

    def block_appended(self, committed: CommittedBlock, round_number: int, synced: bool,
                       previous_hash: bytes) -> None:
        """A block was appended on top of `previous_hash` (by consensus, or `synced`)."""

    def reported(self, report: Report) -> None:
        """The state machine reported something (round change, equivocation, ...)."""

    def consensus_started(self) -> None:
        """Catch-up is over and consensus runs from head + 1."""


@dataclass(frozen=True, slots=True)
class RuntimePorts:
    """Everything a `NodeRuntime` is plugged into.

    mapper: how the ledger fans out signature recovery of unknown transactions (a thread
    pool's map in a real process; None runs them in line).
    executor: the ledger's execution port (None: py-evm in this ledger).
    adaptive_proposals: size proposals by measured build time (a real process, where a slow
    machine must keep a proposal within its round); off where time is virtual.
    """

    clock: Clock
    timers: Timers
    transport: Transport
    peer_blocks: PeerBlocks
    block_store: BlockStore
    record_store: RecordStore
    processor: Processor
    observer: RuntimeObserver
    mapper: Mapper | None = None
    executor: Executor | None = None
    adaptive_proposals: bool = True


class ImmediateProcessor:
    """A real machine: the work is done when the call returns."""

    def spend_block(self, transactions: int) -> float | None:
        """Done now."""
        return None

    def spend_message(self) -> None:
        """Nothing to model."""

    def spend_transaction(self) -> None:
        """Nothing to model."""


class QuietObserver:
    """Nobody watches (a real process reports through metrics and the dashboard stream)."""

    def block_appended(self, committed: CommittedBlock, round_number: int, synced: bool,
                       previous_hash: bytes) -> None:
        """Ignored."""

    def reported(self, report: Report) -> None:
        """Ignored."""

    def consensus_started(self) -> None:
        """Ignored."""
