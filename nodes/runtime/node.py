"""The node runtime: one city node's driver of the functional core, over ports.

It owns the ledger (over the block store port), the consensus state machine, and drives the
state machine with whatever time and network it is plugged into (nodes/runtime/ports.py): events
in (ticks, peer messages, new transactions, the answers to BuildBlock and ExecuteBlock), actions
out, carried out in the order given — a Persist is written to the store before any later message
leaves. A real process plugs in asyncio timers, the HTTP peer transport and LMDB
(nodes/runtime/asyncio_ports.py); the simulator plugs in virtual time and its simulated network
(simulator/host.py) and drives this same class. It imports no asyncio, no clock and no HTTP
client (an import-linter contract keeps it so).

A block is decoded once between execute and commit: the decoded proposal is kept by hash until
it commits (or falls out of the small window of proposals in flight).
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from chain.blocks import Block, decode_block, encode_block
from chain.consensus import actions as consensus_actions
from chain.consensus import events as consensus_events
from chain.consensus.certificate import decode_certificate, encode_certificate
from chain.consensus.codec import decode_message, encode_message
from chain.consensus.messages import Message
from chain.consensus.persistence import decode_persisted_state, encode_persisted_state
from chain.consensus.state import ConsensusConfig, ConsensusState
from chain.consensus.validators import ValidatorSet
from chain.errors import YrdError
from chain.genesis import Genesis
from chain.ledger import CommittedBlock, Ledger
from chain.transactions import AdmittedTransaction
from nodes.runtime.config import NodeConfig
from nodes.runtime.consensus_setup import ConsensusMachine, default_consensus_config
from nodes.runtime.events import BlockCommitted, ConsensusNotice, ProposalBuilt, RuntimeEventKind
from nodes.runtime.frames import decode_frames
from nodes.runtime.observation import DASHBOARD_REPORTS, EventStream, NodeMetrics, status_view
from nodes.runtime.ports import (
    CHANNEL_CONSENSUS,
    CHANNEL_TRANSACTIONS,
    RuntimePorts,
    TransactionJournal,
)
from nodes.runtime.proposals import ProposalSizer
from nodes.runtime.sync import BlockSync

LOGGER = logging.getLogger(__name__)
CONSENSUS_META_KEY = b"consensus"
COUNT_DECODED_PROPOSALS = 16  # decoded proposals kept from execute to commit (a few rounds)


class NodeRuntime:
    """A validator node: ledger + consensus, driven over its ports."""

    def __init__(self, config: NodeConfig, genesis: Genesis, validator_set: ValidatorSet,
                 ports: RuntimePorts, consensus_config: ConsensusConfig | None = None) -> None:
        self.config = config
        self.preset = genesis.preset
        self.node = self.preset.node(config.node_id)
        self.validator_set = validator_set
        self.ports = ports
        self.clock = ports.clock
        self.timers = ports.timers
        self.transport = ports.transport
        self.store = ports.block_store
        self.record_store = ports.record_store
        self.ledger = Ledger(self.store, genesis, mapper=ports.mapper, executor=ports.executor)
        self.ledger.admission_clock_ms = self.clock.chain_ms  # refuse grants long expired
        self.metrics = NodeMetrics()
        self.stream = EventStream(config.node_id, self.node.city.value, self.clock)
        self.listeners = self.stream.listeners  # the dashboard's listeners
        self.commit_hooks: list[Callable[[CommittedBlock], None]] = []  # API caches, audit
        self.pending_journal: TransactionJournal | None = None  # node_process opens the file
        persisted_raw = self.store.load_meta(CONSENSUS_META_KEY)
        self.consensus: ConsensusMachine = ConsensusState(
            consensus_config or default_consensus_config(
                config.node_id, self.preset.node_seed(config.node_id), validator_set),
            decode_persisted_state(persisted_raw) if persisted_raw else None,
        )
        self._pending_events: deque[consensus_events.Event] = deque()
        self._draining = False
        self._timers: set[int] = set()
        self._proposals: OrderedDict[bytes, Block] = OrderedDict()
        self.started = False
        self.halted = False
        self.sync = BlockSync(self.ledger, validator_set, ports.peer_blocks, self._synced_block,
                              self.metrics.counters)
        self.proposals = ProposalSizer()

    # Life cycle ---------------------------------------------------------------------------

    def start(self, then: Callable[[], None] | None = None) -> None:
        """Catch up from the peer furthest ahead, then start consensus at head + 1; `then`."""

        def start_consensus() -> None:
            self.restore_pending()
            self._start_consensus()
            if then is not None:
                then()

        self.sync.catch_up(start_consensus)

    def _start_consensus(self) -> None:
        head = self.ledger.head
        self.started = True
        self.feed(consensus_events.Start(self.clock.now_ms(), head.height + 1, head.block_hash,
                                         self._head_round()))
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                       self.clock.now_ms()))
        self.ports.observer.consensus_started()

    def _head_round(self) -> int | None:
        """The round in the head block's commit certificate (None at genesis)."""
        head = self.ledger.head
        if head.height == 0:
            return None
        certificate = self.ledger.block(head.height).certificate
        return decode_certificate(certificate).round if certificate else None

    def halt(self) -> None:
        """Stop driving: timers are cancelled and late answers ignored (the process ends)."""
        self.halted = True
        self.sync.halted = True
        self.started = False
        self.timers.cancel_all()
        self._timers.clear()
        self._pending_events.clear()

    # Events in ---------------------------------------------------------------------------

    def feed(self, event: consensus_events.Event) -> None:
        """Hand an event to the state machine and carry out what it asks, in order."""
        if self.halted:
            return
        self._pending_events.append(event)
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending_events and not self.halted:
                for action in self.consensus.handle(self._pending_events.popleft()):
                    self._carry_out(action)
        finally:
            self._draining = False

    def submit_transaction(self, raw: bytes, gossip: bool = True) -> AdmittedTransaction:
        """Admit a client's transaction, gossip it (unless every node is handed it anyway, as
        the importer does), and tell consensus there is work."""
        self.ports.processor.spend_transaction()
        return self.submit_admitted(self.ledger.senders.admit(self.ledger.decode(raw)), gossip)

    def submit_admitted(self, admitted: AdmittedTransaction,
                        gossip: bool = True) -> AdmittedTransaction:
        """Queue a transaction the caller already decoded and verified; gossip it."""
        self.ledger.enqueue(admitted)
        self.metrics.counters["transactions_admitted"] += 1
        if self.pending_journal is not None:
            self.pending_journal.record(admitted)
        self.metrics.submitted_at[admitted.hash] = self.clock.monotonic_s()
        if gossip:
            self.transport.broadcast(CHANNEL_TRANSACTIONS, admitted.transaction.raw)
        self._pending_work()
        return admitted

    def restore_pending(self) -> None:
        """Re-admit and gossip the journaled transactions a crash left pending."""
        if self.pending_journal is None:
            return
        for admitted in self.pending_journal.restore(self.ledger):
            self.transport.broadcast(CHANNEL_TRANSACTIONS, admitted.transaction.raw)
        self.commit_hooks.append(self.pending_journal.on_commit)

    async def pending_durable(self) -> None:
        """Wait until every transaction this node acknowledged is fsynced in its journal."""
        if self.pending_journal is not None:
            await self.pending_journal.durable()

    def deliver_frames(self, channel: str, frames: list[bytes]) -> None:
        """Frames from an authenticated peer channel, handled on the next turn."""
        self.timers.call_soon(lambda: self._handle_frames(channel, frames))

    def receive_frames(self, channel: str, body: bytes) -> int:
        """Frames from a peer: checked for shape now, handled on the next turn.

        The peer's request returns at once: handling a proposal executes a block, which must not
        hold the sender's request open (it would time out and drop messages).
        """
        frames = decode_frames(body)
        self.timers.call_soon(lambda: self._handle_frames(channel, frames))
        return len(frames)

    def _handle_frames(self, channel: str, frames: list[bytes]) -> None:
        if channel == CHANNEL_CONSENSUS:
            for frame in frames:
                try:
                    message = decode_message(frame)
                except Exception:  # a malformed peer frame is dropped and counted
                    self.metrics.counters["peer_frames_malformed"] += 1
                    continue
                self.receive_message(message)
        elif channel == CHANNEL_TRANSACTIONS and sum(map(self._admit_gossiped, frames)):
            self._pending_work()

    def receive_message(self, message: Message, signature_checked: bool = False) -> None:
        """A decoded consensus message from a peer (`signature_checked`: already verified)."""
        self.ports.processor.spend_message()
        self.metrics.counters["consensus_messages_received"] += 1
        if self.started:
            self.feed(consensus_events.MessageReceived(message, self.clock.now_ms(),
                                                       signature_checked))

    def receive_transaction(self, raw: bytes) -> bool:
        """One gossiped transaction: admit it (one signature recovery); False if refused."""
        admitted = self._admit_gossiped(raw)
        if admitted:
            self._pending_work()
        return admitted

    def _admit_gossiped(self, raw: bytes) -> bool:
        self.ports.processor.spend_transaction()
        try:
            self.ledger.admit(raw)
        except YrdError:
            self.metrics.counters["gossip_refused"] += 1
            return False
        return True

    def _pending_work(self) -> None:
        if self.started:
            self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                           self.clock.now_ms()))

    def _answer(self, done_ms: float | None,
                answer: Callable[[int], consensus_events.Event]) -> None:
        """Feed the answer to BuildBlock/ExecuteBlock now, or when the machine's work is done."""
        if done_ms is None:
            self.feed(answer(self.clock.now_ms()))
        else:
            self.timers.call_at(done_ms, lambda: self.feed(answer(int(done_ms))))

    # Actions out -------------------------------------------------------------------------

    def _carry_out(self, action: consensus_actions.Action) -> None:
        match action:
            case consensus_actions.Persist(record=record):
                self.store.save_meta(CONSENSUS_META_KEY, encode_persisted_state(record))
            case consensus_actions.Broadcast(message=message):
                self.transport.broadcast(CHANNEL_CONSENSUS, encode_message(message))
                self._observe_sent(message)
            case consensus_actions.SendTo(node_id=peer, message=message):
                self.transport.send(peer, CHANNEL_CONSENSUS, encode_message(message))
            case consensus_actions.BuildBlock(height=height, round=round_number):
                self._build(height, round_number)
            case consensus_actions.ExecuteBlock():
                self._execute(action)
            case consensus_actions.CommitBlock():
                self._commit(action)
            case consensus_actions.ScheduleTimeout(at_ms=at_ms):
                self._schedule(at_ms)
            case consensus_actions.RequestSync(peer_node_id=peer):
                self.sync.request(peer)
            case consensus_actions.Report(kind=kind, detail=detail):
                self.metrics.counters[f"consensus_{kind.value}"] += 1
                self.ports.observer.reported(action)
                if kind.value in DASHBOARD_REPORTS:
                    self.stream.publish(ConsensusNotice(RuntimeEventKind(kind.value), detail,
                                                  self.consensus.round))

    def _build(self, height: int, round_number: int) -> None:
        if height != self.ledger.head.height + 1:
            return
        started = self.clock.monotonic_s()
        if self.ports.adaptive_proposals:
            block = self.ledger.build_block(self.clock.chain_ms(), self.config.node_id,
                                            limit=self.proposals.limit)
            self.proposals.adapt(len(block.transactions), self.clock.monotonic_s() - started)
        else:
            block = self.ledger.build_block(self.clock.chain_ms(), self.config.node_id)
        self._keep_proposal(block)
        self.metrics.counters["blocks_built"] += 1
        self.stream.publish(ProposalBuilt(height, round_number, len(block.transactions),
                                    block.hash.hex()))
        encoded = encode_block(block)
        self._answer(self.ports.processor.spend_block(len(block.transactions)),
                     lambda at_ms: consensus_events.BlockBuilt(height, round_number, block.hash,
                                                               encoded, at_ms))

    def _keep_proposal(self, block: Block) -> None:
        self._proposals[block.hash] = block
        while len(self._proposals) > COUNT_DECODED_PROPOSALS:
            self._proposals.popitem(last=False)

    def _execute(self, action: consensus_actions.ExecuteBlock) -> None:
        valid = False
        transactions = 0
        try:
            block = decode_block(action.block)
            transactions = len(block.transactions)
            if block.hash == action.block_hash and block.height == action.height:
                if action.fresh:
                    self.ledger.validate_proposal(block, self.clock.chain_ms())
                else:
                    self.ledger.validate_block(block)
                self._keep_proposal(block)
                valid = True
        except YrdError as error:
            LOGGER.info("block %d 0x%s refused: %s", action.height,
                        action.block_hash.hex()[:16], error)
        self._answer(self.ports.processor.spend_block(transactions),
                     lambda at_ms: consensus_events.BlockExecuted(action.height,
                                                                  action.block_hash, valid,
                                                                  at_ms))

    def _commit(self, action: consensus_actions.CommitBlock) -> None:
        decoded = self._proposals.pop(action.block_hash, None) or decode_block(action.block)
        block = decoded.with_certificate(encode_certificate(action.certificate))
        if block.height != self.ledger.head.height + 1:
            return
        previous_hash = self.ledger.head.block_hash
        committed = self.ledger.append_block(block)
        self._after_commit(committed, action.certificate.round, False, previous_hash)
        self._pending_work()

    def _after_commit(self, committed: CommittedBlock, round_number: int, synced: bool,
                      previous_hash: bytes) -> None:
        counters = self.metrics.counters
        counters["blocks_committed"] += 1
        if synced:
            counters["blocks_synced"] += 1
        counters["transactions_committed"] += len(committed.admitted)
        self.metrics.committed(committed.admitted, self.clock.monotonic_s())
        header = committed.block.header
        self.stream.publish(BlockCommitted(header.height, round_number, committed.block.hash.hex(),
                                     header.proposer, len(committed.block.transactions),
                                     header.state_root.hex()))
        self.ports.observer.block_appended(committed, round_number, synced, previous_hash)
        for hook in list(self.commit_hooks):
            try:
                hook(committed)
            except Exception:  # a failing hook must not stop the node from committing
                LOGGER.exception("commit hook %r failed", hook)

    def _schedule(self, at_ms: int) -> None:
        if at_ms in self._timers:
            return
        self._timers.add(at_ms)

        def fire() -> None:
            self._timers.discard(at_ms)
            self.feed(consensus_events.Tick(max(self.clock.now_ms(), at_ms)))

        self.timers.call_at(at_ms, fire)

    # Block sync --------------------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        """Whether blocks are being fetched from a peer (catch-up or sync)."""
        return self.sync.syncing

    def _synced_block(self, committed: CommittedBlock, block: Block, round_number: int,
                      previous_hash: bytes, notify: bool) -> None:
        self.ports.processor.spend_block(len(block.transactions))
        self._after_commit(committed, round_number, True, previous_hash)
        if notify:
            self.feed(consensus_events.BlockSynced(block.height, block.hash,
                                                   self.clock.now_ms(), round_number))
        self._pending_work()

    def apply_synced(self, frame: bytes, notify: bool) -> bool:
        """Verify a fetched block's certificate and append it; False if it is refused."""
        return self.sync.apply(frame, notify)

    def committed_blocks(self, start: int, limit: int) -> list[bytes]:
        """Committed blocks (with certificates) from `start`, for a syncing peer."""
        return self.sync.committed_blocks(start, limit)

    def blocks_from(self, start: int, limit: int) -> bytes:
        """`committed_blocks` as frames, as many as fit one peer frame (the peer asks again
        from where the answer ends)."""
        return self.sync.blocks_from(start, limit)

    # Observation -------------------------------------------------------------------------

    def _observe_sent(self, message: Message) -> None:
        self.metrics.counters["consensus_messages_sent"] += 1
        self.stream.sent(message)

    @property
    def recent_events(self) -> list[dict[str, Any]]:
        """The dashboard's replay: this node's recent events, oldest first."""
        return self.stream.recent

    def emit(self, event: dict[str, Any]) -> None:
        """Publish an event on this node's dashboard stream (node, city and time_ms added)."""
        self.stream.emit(event)

    def emit_deferred(self, produce: Callable[[], list[dict[str, Any]]]) -> None:
        """Events shaped only when a viewer listens or the replay is read."""
        self.stream.emit_deferred(produce)

    def status(self) -> dict[str, Any]:
        """What GET /status answers."""
        return status_view(self.config.node_id, self.node.city.value, self.preset,
                           self.ledger.head, self.consensus.round, len(self.ledger.mempool),
                           self.transport.connected_peers(), self.validator_set)
