"""A simulated city node: the real consensus state machine and the real ledger on virtual time.

`SimulatedNode` is to the simulator what `nodes.runtime.node.NodeRuntime` is to a real process,
and it drives the core the same way: events go through one `feed` queue into
`ConsensusState.handle`; actions are carried out in order (a Persist is written to the node's
store before any later message leaves); BuildBlock asks `Ledger.build_block`, ExecuteBlock
decodes and `Ledger.validate_block`s, CommitBlock attaches the certificate and
`Ledger.append_block`s; synced blocks have their certificate verified before they are appended.
What differs is only the shell: time is virtual, the network is `simulator.network`, and each
node has one simulated CPU core (work queues behind the work before it; `CpuSpec` says how long
each step takes). A crash drops the state machine, the ledger object and the mempool; the
`MemoryBlockStore` (blocks, state, persisted consensus record, audit log) survives, and a
restart rebuilds both from it, as the real node does from LMDB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chain.blocks import decode_block, encode_block
from chain.cities import City
from chain.consensus import actions as consensus_actions
from chain.consensus import events as consensus_events
from chain.consensus.certificate import decode_certificate, encode_certificate, verify_certificate
from chain.consensus.codec import encode_message
from chain.consensus.errors import CertificateError
from chain.consensus.messages import Message
from chain.consensus.persistence import decode_persisted_state, encode_persisted_state
from chain.consensus.state import ConsensusConfig, ConsensusState
from chain.errors import YrdError
from chain.execution import Executor
from chain.genesis import Genesis
from chain.ledger import CommittedBlock, Ledger
from chain.storage import MemoryBlockStore
from chain.transactions import AdmittedTransaction
from nodes.runtime.node import CONSENSUS_META_KEY
from nodes.storage.records import MemoryRecordStore
from simulator.scenario import CpuSpec

Behaviour = Callable[[list[consensus_actions.Action]], list[consensus_actions.Action]]
"""Rewrites the honest actions of a byzantine node (chain.consensus.byzantine shape)."""


class NodeHost(Protocol):
    """What a node needs from the simulation around it."""

    def now_ms(self) -> float:
        """Virtual time."""

    def send(self, node: SimulatedNode, peer: str | None, channel: str, frame: bytes,
             at_ms: float) -> None:
        """Send a frame to one peer (or every peer when None), leaving at `at_ms`."""

    def schedule_input(self, node: SimulatedNode, at_ms: float,
                       event: consensus_events.Event) -> None:
        """Deliver a consensus event to this node's current incarnation at `at_ms`."""

    def request_sync(self, node: SimulatedNode, peer: str, notify: bool) -> None:
        """Fetch committed blocks from `peer`; the reply comes back to `apply_synced`."""

    def on_commit(self, node: SimulatedNode, committed: CommittedBlock, round_number: int,
                  synced: bool, previous_hash: bytes) -> None:
        """A block was appended at this node on top of `previous_hash`."""

    def on_report(self, node: SimulatedNode, report: consensus_actions.Report) -> None:
        """The state machine reported something."""

    @property
    def executor(self) -> Executor | None:
        """The ledger's execution port (None: py-evm per node)."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who a simulated node is."""

    node_id: str
    city: City


class SimulatedNode:
    """One validator: real ledger + real consensus state machine on a simulated host."""

    def __init__(self, identity: NodeIdentity, genesis: Genesis, config: ConsensusConfig,
                 cpu: CpuSpec, host: NodeHost) -> None:
        self.identity = identity
        self.node_id = identity.node_id
        self.city = identity.city
        self.genesis = genesis
        self.config = config
        self.cpu = cpu
        self.host = host
        self.store = MemoryBlockStore()
        self.records = MemoryRecordStore()
        self.ledger: Ledger | None = None
        self.consensus: ConsensusState | None = None
        self.incarnation = 0
        self.started = False
        self.busy_until_ms = 0.0
        self.skew_ms = 0.0
        self.behaviour: Behaviour | None = None
        self.syncing = False
        self._pending_events: deque[consensus_events.Event] = deque()
        self._draining = False
        self._timers: set[int] = set()

    # --- life cycle --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the node process is up."""
        return self.ledger is not None

    def boot(self) -> None:
        """Start (or restart) from the store: ledger, persisted consensus record, catch-up."""
        self.incarnation += 1
        self.ledger = Ledger(self.store, self.genesis, executor=self.host.executor)
        persisted_raw = self.store.load_meta(CONSENSUS_META_KEY)
        self.consensus = ConsensusState(
            self.config, decode_persisted_state(persisted_raw) if persisted_raw else None
        )
        self.started = False
        self.syncing = False
        self._timers.clear()
        self._pending_events.clear()
        self.busy_until_ms = self.host.now_ms()

    def start_consensus(self) -> None:
        """After catch-up: Start at head + 1 and report the mempool (NodeRuntime.start)."""
        assert self.ledger is not None
        head = self.ledger.head
        self.started = True
        self.feed(consensus_events.Start(self.local_ms(), head.height + 1, head.block_hash))
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                       self.local_ms()))

    def crash(self) -> None:
        """Stop: the state machine, ledger object and mempool are gone; the store stays."""
        self.incarnation += 1
        self.ledger = None
        self.consensus = None
        self.started = False
        self.syncing = False
        self._timers.clear()
        self._pending_events.clear()

    def local_ms(self) -> int:
        """This node's clock: virtual time plus its skew."""
        return int(self.host.now_ms() + self.skew_ms)

    def wall_clock_ms(self) -> int:
        """This node's wall clock for block timestamps: chain time starts at genesis when virtual
        time starts at 0 (consensus timers keep running on `local_ms`)."""
        assert self.ledger is not None
        return self.ledger.genesis.preset.genesis_timestamp_ms + self.local_ms()

    def busy(self) -> bool:
        """Whether the node's core is still working on earlier input."""
        return self.busy_until_ms > self.host.now_ms()

    def spend(self, cost_ms: float) -> float:
        """Occupy the core for `cost_ms` from now (or from the end of earlier work)."""
        self.busy_until_ms = max(self.busy_until_ms, self.host.now_ms()) + cost_ms
        return self.busy_until_ms

    # --- events in ---------------------------------------------------------------------------

    def feed(self, event: consensus_events.Event) -> None:
        """Hand an event to the state machine and carry out what it asks, in order."""
        if self.consensus is None:
            return
        self._pending_events.append(event)
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending_events and self.consensus is not None:
                actions = self.consensus.handle(self._pending_events.popleft())
                if self.behaviour is not None:
                    actions = self.behaviour(actions)
                for action in actions:
                    self._carry_out(action)
        finally:
            self._draining = False

    def receive_message(self, message: Message, signature_checked: bool = False) -> None:
        """A consensus message from a peer (decoded, and perhaps verified, by the host)."""
        self.spend(self.cpu.message_ms)
        if self.started:
            self.feed(consensus_events.MessageReceived(message, self.local_ms(),
                                                       signature_checked))

    def receive_transaction(self, raw: bytes) -> bool:
        """A gossiped transaction: admit it (real signature recovery); False if refused."""
        assert self.ledger is not None
        self.spend(self.cpu.transaction_ms)
        try:
            self.ledger.admit(raw)
        except YrdError:
            return False
        if self.started:
            self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                           self.local_ms()))
        return True

    def submit_transaction(self, raw: bytes) -> AdmittedTransaction:
        """A client's transaction: admit, gossip, tell consensus (NodeRuntime.submit)."""
        assert self.ledger is not None
        at_ms = self.spend(self.cpu.transaction_ms)
        admitted = self.ledger.admit(raw)
        self.host.send(self, None, "transactions", raw, at_ms)
        if self.started:
            self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                           self.local_ms()))
        return admitted

    def timer_fired(self, at_ms: int) -> None:
        """A ScheduleTimeout came due."""
        self._timers.discard(at_ms)
        self.feed(consensus_events.Tick(max(self.local_ms(), at_ms)))

    # --- actions out -------------------------------------------------------------------------

    def _carry_out(self, action: consensus_actions.Action) -> None:
        match action:
            case consensus_actions.Persist(record=record):
                self.store.save_meta(CONSENSUS_META_KEY, encode_persisted_state(record))
            case consensus_actions.Broadcast(message=message):
                self.host.send(self, None, "consensus", encode_message(message),
                               max(self.busy_until_ms, self.host.now_ms()))
            case consensus_actions.SendTo(node_id=peer, message=message):
                self.host.send(self, peer, "consensus", encode_message(message),
                               max(self.busy_until_ms, self.host.now_ms()))
            case consensus_actions.BuildBlock(height=height, round=round_number):
                self._build(height, round_number)
            case consensus_actions.ExecuteBlock():
                self._execute(action)
            case consensus_actions.CommitBlock():
                self._commit(action)
            case consensus_actions.ScheduleTimeout(at_ms=at_ms):
                self._schedule(at_ms)
            case consensus_actions.RequestSync(peer_node_id=peer):
                if not self.syncing:
                    self.syncing = True
                    self.host.request_sync(self, peer, notify=True)
            case consensus_actions.Report():
                self.host.on_report(self, action)

    def block_cost_ms(self, transactions: int) -> float:
        """Modelled py-evm time of a block of `transactions`."""
        return self.cpu.block_base_ms + self.cpu.block_transaction_ms * transactions

    def _build(self, height: int, round_number: int) -> None:
        assert self.ledger is not None
        if height != self.ledger.head.height + 1:
            return
        block = self.ledger.build_block(self.wall_clock_ms(), self.node_id)
        done = self.spend(self.block_cost_ms(len(block.transactions)))
        self.host.schedule_input(self, done, consensus_events.BlockBuilt(
            height, round_number, block.hash, encode_block(block),
            int(done + self.skew_ms)))

    def _execute(self, action: consensus_actions.ExecuteBlock) -> None:
        assert self.ledger is not None
        valid = False
        transactions = 0
        try:
            block = decode_block(action.block)
            transactions = len(block.transactions)
            if block.hash == action.block_hash and block.height == action.height:
                if action.fresh:
                    self.ledger.validate_proposal(block, self.wall_clock_ms())
                else:
                    self.ledger.validate_block(block)
                valid = True
        except YrdError:
            valid = False
        done = self.spend(self.block_cost_ms(transactions))
        self.host.schedule_input(self, done, consensus_events.BlockExecuted(
            action.height, action.block_hash, valid, int(done + self.skew_ms)))

    def _commit(self, action: consensus_actions.CommitBlock) -> None:
        assert self.ledger is not None
        block = decode_block(action.block).with_certificate(
            encode_certificate(action.certificate))
        if block.height != self.ledger.head.height + 1:
            return
        previous_hash = self.ledger.head.block_hash
        committed = self.ledger.append_block(block)
        self.host.on_commit(self, committed, action.certificate.round, False, previous_hash)
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                       self.local_ms()))

    def _schedule(self, at_ms: int) -> None:
        if at_ms in self._timers:
            return
        self._timers.add(at_ms)
        self.host.schedule_input(self, at_ms - self.skew_ms, consensus_events.Tick(at_ms))

    # --- block sync --------------------------------------------------------------------------

    def blocks_from(self, start: int, limit: int) -> list[bytes]:
        """Committed blocks with certificates from `start` (what /peer/blocks answers)."""
        assert self.ledger is not None
        end = min(self.ledger.head.height, start + limit - 1)
        return [encode_block(self.ledger.block(h)) for h in range(max(start, 1), end + 1)]

    def apply_synced(self, frame: bytes, notify: bool) -> bool:
        """Verify a fetched block's certificate and append it (NodeRuntime._apply_synced)."""
        assert self.ledger is not None
        try:
            block = decode_block(frame)
            certificate = decode_certificate(block.certificate)
            verify_certificate(certificate, self.config.validator_set)
            if certificate.block_hash != block.hash or certificate.height != block.height:
                return False
            if block.height != self.ledger.head.height + 1:
                return False
            previous_hash = self.ledger.head.block_hash
            committed = self.ledger.append_block(block)
        except (YrdError, CertificateError, ValueError):
            return False
        self.spend(self.block_cost_ms(len(block.transactions)))
        self.host.on_commit(self, committed, certificate.round, True, previous_hash)
        if notify:
            self.feed(consensus_events.BlockSynced(block.height, block.hash, self.local_ms()))
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                       self.local_ms()))
        return True
