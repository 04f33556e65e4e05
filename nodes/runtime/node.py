"""The node runtime: one city node's imperative shell around the functional core.

It owns the ledger (on LMDB), the consensus state machine, the peer transport and the clock, and
drives the state machine with real time: events in (ticks, peer messages, new transactions, the
answers to BuildBlock and ExecuteBlock), actions out, carried out in the order given — a Persist
is written to disk before any later message leaves.

Everything here runs on the asyncio loop's thread; only signature recovery of unknown
transactions fans out to a small thread pool (coincurve releases the GIL).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from chain.blocks import decode_block, encode_block
from chain.consensus import actions as consensus_actions
from chain.consensus import events as consensus_events
from chain.consensus.certificate import decode_certificate, encode_certificate, verify_certificate
from chain.consensus.codec import decode_message, encode_message
from chain.consensus.messages import message_kind
from chain.consensus.persistence import decode_persisted_state, encode_persisted_state
from chain.consensus.state import ConsensusConfig, ConsensusState
from chain.consensus.validators import ValidatorSet
from chain.errors import YrdError
from chain.genesis import Genesis
from chain.ledger import CommittedBlock, Ledger
from chain.storage import BlockStore
from chain.transactions import AdmittedTransaction
from nodes.runtime.config import NodeConfig
from nodes.runtime.frames import decode_frames, encode_frames
from nodes.runtime.latency import one_way_delay_ms
from nodes.runtime.transport import HttpTransport
from nodes.storage.records import MemoryRecordStore, RecordStore

LOGGER = logging.getLogger(__name__)
CONSENSUS_META_KEY = b"consensus"
SYNC_BATCH_BLOCKS = 64
SYNC_TIMEOUT_S = 10.0
RECENT_EVENTS = 2_000  # what the dashboard's stream can replay to a new viewer
VERIFY_THREADS = 2
TIMEOUT_MS_ROUND_BASE = 5_000  # first round timer: every validator must execute the proposal in it
INTERVAL_MS_MIN_BLOCK = 200  # a block gathers what arrives in its first 200 ms, not 1 tx
BUILD_BUDGET_MS = 400  # a proposal must execute well within a round on every validator
PROPOSAL_TRANSACTIONS_MIN = 10
PROPOSAL_TRANSACTIONS_MAX = 1_000  # chain.blocks.MAX_BLOCK_TRANSACTIONS


def now_ms() -> int:
    """Wall-clock milliseconds: block timestamps and consensus timers."""
    return int(time.time() * 1000)


@dataclass
class NodeMetrics:
    """Counters for /status and /metrics."""

    counters: Counter[str] = field(default_factory=Counter)
    commit_latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    submitted_at: dict[bytes, float] = field(default_factory=dict)


class NodeRuntime:
    """A validator node: ledger + consensus + transport, driven on an asyncio loop."""

    def __init__(self, config: NodeConfig, genesis: Genesis, store: BlockStore,
                 validator_set: ValidatorSet) -> None:
        self.config = config
        self.preset = genesis.preset
        self.node = self.preset.node(config.node_id)
        self.validator_set = validator_set
        self._pool = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="verify")
        self.ledger = Ledger(store, genesis, mapper=self._pool.map)
        self.store = store
        self.metrics = NodeMetrics()
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.record_store: RecordStore = MemoryRecordStore()  # server.py opens the LMDB one
        self.commit_hooks: list[Callable[[CommittedBlock], None]] = []  # API caches, audit
        persisted_raw = store.load_meta(CONSENSUS_META_KEY)
        self.consensus = ConsensusState(
            ConsensusConfig(config.node_id, self.preset.node_seed(config.node_id), validator_set,
                            timeout_ms_round_base=TIMEOUT_MS_ROUND_BASE,
                            interval_ms_min_block=INTERVAL_MS_MIN_BLOCK),
            decode_persisted_state(persisted_raw) if persisted_raw else None,
        )
        self.transport = HttpTransport(peers=dict(config.peers), delays_ms=self._link_delays())
        self._pending_events: deque[consensus_events.Event] = deque()
        self._draining = False
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._sync_task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.started = False
        self._proposal_limit = PROPOSAL_TRANSACTIONS_MAX // 4

    def _link_delays(self) -> dict[str, float]:
        if self.config.latency != "regional":
            return {}
        return {peer: one_way_delay_ms(self.node.city, self.preset.node(peer).city)
                for peer in self.config.peers}

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the transport, catch up with peers, and start consensus at head + 1."""
        self._http = httpx.AsyncClient(timeout=SYNC_TIMEOUT_S)
        await self.transport.start()
        await self.catch_up()
        head = self.ledger.head
        self.started = True
        self.feed(consensus_events.Start(now_ms(), head.height + 1, head.block_hash))
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(), now_ms()))

    async def stop(self) -> None:
        """Stop timers and the transport."""
        for timer in self._timers.values():
            timer.cancel()
        if self._sync_task is not None:
            self._sync_task.cancel()
        await self.transport.stop()
        if self._http is not None:
            await self._http.aclose()
        self._pool.shutdown(wait=False)

    # Events in ---------------------------------------------------------------------------

    def feed(self, event: consensus_events.Event) -> None:
        """Hand an event to the state machine and carry out what it asks, in order."""
        self._pending_events.append(event)
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending_events:
                for action in self.consensus.handle(self._pending_events.popleft()):
                    self._carry_out(action)
        finally:
            self._draining = False

    def submit_transaction(self, raw: bytes) -> AdmittedTransaction:
        """Admit a client's transaction, gossip it, and tell consensus there is work."""
        return self.submit_admitted(self.ledger.senders.admit(self.ledger.decode(raw)))

    def submit_admitted(self, admitted: AdmittedTransaction) -> AdmittedTransaction:
        """Queue a transaction the caller already decoded and verified; gossip it."""
        self.ledger.enqueue(admitted)
        raw = admitted.transaction.raw
        self.metrics.counters["transactions_admitted"] += 1
        self.metrics.submitted_at[admitted.hash] = time.monotonic()
        self.transport.broadcast("transactions", raw)
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(), now_ms()))
        return admitted

    def receive_frames(self, channel: str, body: bytes) -> int:
        """Frames from a peer: checked for shape now, handled on the loop's next turn.

        The peer's HTTP request returns at once: handling a proposal executes a block, which
        must not hold the sender's request open (it would time out and drop messages).
        """
        frames = decode_frames(body)
        asyncio.get_running_loop().call_soon(self._handle_frames, channel, frames)
        return len(frames)

    def _handle_frames(self, channel: str, frames: list[bytes]) -> None:
        if channel == "consensus":
            for frame in frames:
                try:
                    message = decode_message(frame)
                except Exception:  # a malformed peer frame is dropped and counted
                    self.metrics.counters["peer_frames_malformed"] += 1
                    continue
                self._observe_message(message)
                if self.started:
                    self.feed(consensus_events.MessageReceived(message, now_ms()))
        elif channel == "transactions":
            admitted = 0
            for frame in frames:
                try:
                    self.ledger.admit(frame)
                    admitted += 1
                except YrdError:
                    self.metrics.counters["gossip_refused"] += 1
            if admitted and self.started:
                self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(),
                                                               now_ms()))

    # Actions out -------------------------------------------------------------------------

    def _carry_out(self, action: consensus_actions.Action) -> None:
        match action:
            case consensus_actions.Persist(record=record):
                self.store.save_meta(CONSENSUS_META_KEY, encode_persisted_state(record))
            case consensus_actions.Broadcast(message=message):
                self.transport.broadcast("consensus", encode_message(message))
                self._observe_message(message, outgoing=True)
            case consensus_actions.SendTo(node_id=peer, message=message):
                self.transport.send(peer, "consensus", encode_message(message))
            case consensus_actions.BuildBlock(height=height, round=round_number):
                self._build(height, round_number)
            case consensus_actions.ExecuteBlock():
                self._execute(action)
            case consensus_actions.CommitBlock():
                self._commit(action)
            case consensus_actions.ScheduleTimeout(at_ms=at_ms):
                self._schedule(at_ms)
            case consensus_actions.RequestSync(from_height=height, peer_node_id=peer):
                self._request_sync(height, peer)
            case consensus_actions.Report(kind=kind, detail=detail):
                self.metrics.counters[f"consensus_{kind.value}"] += 1
                if kind.value in ("round_change", "equivocation", "invalid_block"):
                    self._emit({"type": kind.value, "detail": detail,
                                "round": self.consensus.round})

    def _build(self, height: int, round_number: int) -> None:
        if height != self.ledger.head.height + 1:
            return
        started = time.perf_counter()
        block = self.ledger.build_block(now_ms() + self.config.clock_skew_ms, self.config.node_id,
                                        limit=self._proposal_limit)
        self._adapt_proposal_limit(len(block.transactions), time.perf_counter() - started)
        self.metrics.counters["blocks_built"] += 1
        self._emit({"type": "proposal", "height": height, "round": round_number,
                    "transactions": len(block.transactions), "hash": block.hash.hex()})
        self.feed(consensus_events.BlockBuilt(height, round_number, block.hash,
                                              encode_block(block), now_ms()))

    def _adapt_proposal_limit(self, transactions: int, seconds: float) -> None:
        """Size proposals so that building one takes about BUILD_BUDGET_MS on this machine."""
        if transactions < PROPOSAL_TRANSACTIONS_MIN:
            return
        per_transaction_ms = seconds * 1000 / transactions
        target = int(BUILD_BUDGET_MS / max(per_transaction_ms, 1e-3))
        smoothed = (self._proposal_limit + target) // 2
        self._proposal_limit = max(PROPOSAL_TRANSACTIONS_MIN,
                                   min(PROPOSAL_TRANSACTIONS_MAX, smoothed))

    def _execute(self, action: consensus_actions.ExecuteBlock) -> None:
        valid = False
        try:
            block = decode_block(action.block)
            if block.hash == action.block_hash and block.height == action.height:
                if action.fresh:
                    self.ledger.validate_proposal(block, now_ms() + self.config.clock_skew_ms)
                else:
                    self.ledger.validate_block(block)
                valid = True
        except YrdError as error:
            LOGGER.warning("block %d 0x%s refused: %s", action.height,
                           action.block_hash.hex()[:16], error)
        self.feed(consensus_events.BlockExecuted(action.height, action.block_hash, valid,
                                                 now_ms()))

    def _commit(self, action: consensus_actions.CommitBlock) -> None:
        block = decode_block(action.block).with_certificate(
            encode_certificate(action.certificate))
        if block.height != self.ledger.head.height + 1:
            return
        committed = self.ledger.append_block(block)
        self._after_commit(committed, round_number=action.certificate.round)

    def _after_commit(self, committed: CommittedBlock, round_number: int) -> None:
        counters = self.metrics.counters
        counters["blocks_committed"] += 1
        counters["transactions_committed"] += len(committed.admitted)
        finished = time.monotonic()
        for admitted in committed.admitted:
            submitted = self.metrics.submitted_at.pop(admitted.hash, None)
            if submitted is not None:
                self.metrics.commit_latencies_ms.append((finished - submitted) * 1000)
        header = committed.block.header
        self._emit({"type": "commit", "height": header.height, "round": round_number,
                    "hash": committed.block.hash.hex(), "proposer": header.proposer,
                    "transactions": len(committed.block.transactions),
                    "state_root": header.state_root.hex()})
        for hook in list(self.commit_hooks):
            try:
                hook(committed)
            except Exception:  # a failing hook must not stop the node from committing
                LOGGER.exception("commit hook %r failed", hook)
        self.feed(consensus_events.TransactionsPending(self.ledger.ready_transactions(), now_ms()))

    def _schedule(self, at_ms: int) -> None:
        if at_ms in self._timers:
            return
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - now_ms()) / 1000)

        def fire() -> None:
            self._timers.pop(at_ms, None)
            self.feed(consensus_events.Tick(max(now_ms(), at_ms)))

        self._timers[at_ms] = loop.call_later(delay_s, fire)

    # Block sync --------------------------------------------------------------------------

    def _request_sync(self, height: int, peer: str) -> None:
        if self._sync_task is not None and not self._sync_task.done():
            return
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_from(peer))

    async def catch_up(self) -> None:
        """Before consensus starts: fetch committed blocks from any peer that is ahead."""
        best: tuple[int, str] | None = None
        assert self._http is not None
        for peer, url in self.config.peers.items():
            try:
                response = await self._http.get(f"{url}/status", timeout=2.0)
                height = int(response.json()["height"])
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            if height > self.ledger.head.height and (best is None or height > best[0]):
                best = (height, peer)
        if best is not None:
            await self._sync_from(best[1], notify=False)

    async def _sync_from(self, peer: str, notify: bool = True) -> None:
        url = self.config.peers.get(peer)
        if url is None or self._http is None:
            return
        while True:
            start = self.ledger.head.height + 1
            try:
                response = await self._http.get(
                    f"{url}/peer/blocks", params={"from": start, "limit": SYNC_BATCH_BLOCKS})
                frames = decode_frames(response.content) if response.status_code == 200 else []
            except (httpx.HTTPError, ValueError) as error:
                LOGGER.warning("sync from %s failed: %s", peer, error)
                return
            if not frames:
                return
            for frame in frames:
                if not self._apply_synced(frame, notify):
                    return

    def _apply_synced(self, frame: bytes, notify: bool) -> bool:
        try:
            block = decode_block(frame)
            certificate = decode_certificate(block.certificate)
            verify_certificate(certificate, self.validator_set)
            if certificate.block_hash != block.hash or certificate.height != block.height:
                raise ValueError("certificate is for another block")
            if block.height != self.ledger.head.height + 1:
                return False
            committed = self.ledger.append_block(block)
        except Exception as error:  # a bad block from a peer is refused and sync stops
            LOGGER.warning("synced block refused: %s", error)
            self.metrics.counters["sync_refused"] += 1
            return False
        self.metrics.counters["blocks_synced"] += 1
        self._after_commit(committed, round_number=certificate.round)
        if notify:
            self.feed(consensus_events.BlockSynced(block.height, block.hash, now_ms()))
        return True

    def blocks_from(self, start: int, limit: int) -> bytes:
        """Committed blocks (with certificates) from `start`, as frames, for a syncing peer."""
        end = min(self.ledger.head.height, start + min(limit, SYNC_BATCH_BLOCKS) - 1)
        return encode_frames(
            encode_block(self.ledger.block(height)) for height in range(max(start, 1), end + 1))

    # Observation -------------------------------------------------------------------------

    def _observe_message(self, message: Any, outgoing: bool = False) -> None:
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", message_kind(message)).lower()
        self.metrics.counters[f"consensus_messages_{'sent' if outgoing else 'received'}"] += 1
        if outgoing:
            self._emit({"type": "vote" if kind != "proposal" else "proposal_sent",
                        "kind": kind, "height": message.height, "round": message.round})

    def emit(self, event: dict[str, Any]) -> None:
        """Publish an event on this node's dashboard stream (node, city and time_ms added)."""
        self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        event = {"node": self.config.node_id, "city": self.node.city.value,
                 "time_ms": now_ms(), **event}
        self.recent_events.append(event)
        for listener in list(self.listeners):
            listener(event)

    def status(self) -> dict[str, Any]:
        """What GET /status answers."""
        head = self.ledger.head
        return {
            "node_id": self.config.node_id,
            "city": self.node.city.value,
            "preset": self.preset.name,
            "chain_id": self.preset.chain_id,
            "height": head.height,
            "last_block_hash": "0x" + head.block_hash.hex(),
            "state_root": "0x" + head.state_root.hex(),
            "round": self.consensus.round,
            "mempool": len(self.ledger.mempool),
            "connected_peers": self.transport.connected_peers(),
            "validators": [
                {"node_id": v.node_id, "city": v.city, "public_key": v.public_key.hex()}
                for v in self.validator_set.validators
            ],
        }
