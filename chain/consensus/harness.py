"""A deterministic in-memory network of consensus state machines, for tests and the simulator.

The harness owns a virtual clock and a heap of (time, sequence, delivery); it routes every action
of every node: messages go through the codec and a network model (delay, drop, duplicate,
reorder) driven by one seeded `random.Random`; BuildBlock/ExecuteBlock/CommitBlock go to a small
application stub whose blocks are readable bytes; Persist records are kept per node so a crashed
node restarts from them; RequestSync copies certified blocks from a peer. Each delivery and each
action can be written to a transcript line for golden tests.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chain.consensus.actions import (
    Action,
    Broadcast,
    BuildBlock,
    CommitBlock,
    ExecuteBlock,
    Persist,
    Report,
    RequestSync,
    ScheduleTimeout,
    SendTo,
)
from chain.consensus.byzantine import Behaviour, ByzantineKind, make_behaviour
from chain.consensus.certificate import CommitCertificate, verify_certificate
from chain.consensus.codec import decode_message, encode_message
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import CertificateError
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    BlockSynced,
    Event,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.messages import Message, Proposal, RoundChange, message_kind
from chain.consensus.persistence import (
    PersistedState,
    decode_persisted_state,
    encode_persisted_state,
)
from chain.consensus.signing import Signer
from chain.consensus.state import ConsensusState
from chain.consensus.validators import Validator, ValidatorSet
from chain.identity import derive_node_signing_key

CHAIN_ID_HARNESS = "yrd-harness"
"""Chain id of harness networks."""

GENESIS_HASH = hashlib.sha256(b"yrdchain/harness/genesis").digest()
"""Parent of height 1."""

COUNT_MAX_TXS_PER_BLOCK = 500
"""Transactions the stub application puts in one block."""

CITIES = (
    ("shanghai", "Shanghai"),
    ("nanjing", "Nanjing"),
    ("hangzhou", "Hangzhou"),
    ("hefei", "Hefei"),
    ("suzhou", "Suzhou"),
    ("changzhou", "Changzhou"),
    ("suqian", "Suqian"),
    ("taizhou", "Taizhou"),
)
"""The eight cities of the chain, in the order node ids are handed out."""


def hash_block(block: bytes) -> bytes:
    """The stub application's block hash: SHA-256 of the bytes."""
    return hashlib.sha256(block).digest()


def node_names(count: int) -> tuple[tuple[str, str], ...]:
    """(node id, city) for `count` nodes: shanghai-1, nanjing-1, ... then shanghai-2, ..."""
    return tuple(
        (f"{CITIES[i % len(CITIES)][0]}-{i // len(CITIES) + 1}", CITIES[i % len(CITIES)][1])
        for i in range(count)
    )


def make_validators(
    count: int, chain_id: str = CHAIN_ID_HARNESS, key_label: bytes = b"harness/"
) -> tuple[ValidatorSet, dict[str, bytes]]:
    """A validator set of `count` city nodes and each node's private key seed."""
    validators: list[Validator] = []
    seeds: dict[str, bytes] = {}
    for node_id, city in node_names(count):
        private, public = derive_node_signing_key(key_label + node_id.encode())
        validators.append(Validator(node_id, city, public))
        seeds[node_id] = private
    return ValidatorSet(tuple(validators), chain_id), seeds


@dataclass(frozen=True, slots=True)
class NetworkConditions:
    """How the network treats each message: uniform delay, drop and duplicate probabilities."""

    delay_ms_min: int = 1
    delay_ms_max: int = 1
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0


DropRule = Callable[[int, str, str, Message], bool]
"""(now_ms, sender, receiver, message) -> True to drop the message (targeted faults)."""

BlockRejector = Callable[[str, int, bytes], bool]
"""(executing node id, height, block) -> True to make ExecuteBlock answer valid=False."""


@dataclass(slots=True)
class AppStub:
    """The application seen by one node: its committed chain and its mempool size."""

    node_id: str
    chain: list[tuple[bytes, bytes, CommitCertificate | None]] = field(default_factory=list)
    mempool: int = 0

    @property
    def height(self) -> int:
        """Height of the last committed block (0 before the first)."""
        return len(self.chain)

    @property
    def last_hash(self) -> bytes:
        """Hash of the last committed block, or the genesis hash."""
        return self.chain[-1][0] if self.chain else GENESIS_HASH

    def build_block(self, height: int, round_number: int) -> tuple[bytes, bytes]:
        """A candidate block (hash, bytes) with as many pending transactions as fit."""
        txs = min(self.mempool, COUNT_MAX_TXS_PER_BLOCK)
        block = (
            f"block|h={height}|r={round_number}|by={self.node_id}"
            f"|parent={self.last_hash.hex()[:16]}|txs={txs}"
        ).encode()
        return hash_block(block), block

    def check_block(self, height: int, block_hash: bytes, block: bytes) -> bool:
        """Hash binding, height and parent checks."""
        fields = _block_fields(block)
        return (
            fields is not None
            and hash_block(block) == block_hash
            and height == self.height + 1
            and fields.get("h") == str(height)
            and fields.get("parent") == self.last_hash.hex()[:16]
        )

    def append(self, height: int, block_hash: bytes, block: bytes, cert: CommitCertificate) -> str:
        """Append a committed block; returns a violation description, or "" when fine."""
        if height != self.height + 1:
            return f"{self.node_id}: commit of height {height} on top of {self.height}"
        fields = _block_fields(block) or {}
        self.chain.append((block_hash, block, cert))
        self.mempool = max(0, self.mempool - int(fields.get("txs", "0")))
        return ""


def _block_fields(block: bytes) -> dict[str, str] | None:
    parts = block.split(b"|")
    if not parts or parts[0] != b"block":
        return None
    fields: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(b"=")
        if sep:
            fields[key.decode(errors="replace")] = value.decode(errors="replace")
    return fields


@dataclass(slots=True)
class HarnessNode:
    """One simulated node: its state machine (None while crashed), app, record and fault."""

    config: ConsensusConfig
    app: AppStub
    state: ConsensusState | None = None
    incarnation: int = 0
    persisted: PersistedState | None = None
    behaviour: Behaviour | None = None
    reports: Counter[str] = field(default_factory=Counter)
    commit_times_ms: dict[int, int] = field(default_factory=dict)


@dataclass(order=True, slots=True)
class _Delivery:
    at_ms: int
    sequence: int
    node_id: str = field(compare=False)
    incarnation: int = field(compare=False)
    event: Event | None = field(compare=False, default=None)
    wire: bytes = field(compare=False, default=b"")
    control: Callable[[], None] | None = field(compare=False, default=None)


class Harness:
    """N consensus nodes on a simulated network with a virtual clock."""

    def __init__(
        self,
        count: int = 4,
        seed: int = 0,
        conditions: NetworkConditions | None = None,
        build_ms: int = 0,
        execute_ms: int = 0,
        record_transcript: bool = True,
        timeout_ms_round_base: int = 1_000,
        timeout_ms_round_max: int = 16_000,
        interval_ms_empty_block: int = 5_000,
        delay_ms_sync_grace: int = 500,
        interval_ms_sync_retry: int = 1_000,
    ) -> None:
        self.validator_set, self._seeds = make_validators(count)
        self.random = random.Random(seed)
        self.conditions = conditions or NetworkConditions()
        self.build_ms = build_ms
        self.execute_ms = execute_ms
        self.record_transcript = record_transcript
        self.transcript: list[str] = []
        self.violations: list[str] = []
        self.now_ms = 0
        self.drop_rule: DropRule | None = None
        self.reject_block: BlockRejector | None = None
        self._queue: list[_Delivery] = []
        self._sequence = 0
        self.nodes: dict[str, HarnessNode] = {}
        for node_id in self.validator_set.node_ids():
            config = ConsensusConfig(
                node_id=node_id,
                signing_key_seed=self._seeds[node_id],
                validator_set=self.validator_set,
                timeout_ms_round_base=timeout_ms_round_base,
                timeout_ms_round_max=timeout_ms_round_max,
                interval_ms_empty_block=interval_ms_empty_block,
                delay_ms_sync_grace=delay_ms_sync_grace,
                interval_ms_sync_retry=interval_ms_sync_retry,
            )
            self.nodes[node_id] = HarnessNode(config, AppStub(node_id))

    # --- scenario controls -------------------------------------------------------------------

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Node ids in validator order."""
        return self.validator_set.node_ids()

    def honest_ids(self) -> tuple[str, ...]:
        """Nodes without a byzantine behaviour."""
        return tuple(n for n in self.node_ids if self.nodes[n].behaviour is None)

    def set_byzantine(self, node_id: str, kind: ByzantineKind) -> None:
        """Make node_id faulty from now on."""
        signer = Signer(node_id, self._seeds[node_id], self.validator_set.chain_id)
        forger = Signer(
            node_id,
            hashlib.sha256(b"forged/" + node_id.encode()).digest(),
            self.validator_set.chain_id,
        )
        self.nodes[node_id].behaviour = make_behaviour(
            kind, signer, self.validator_set, hash_block, forger
        )

    def start(self, node_ids: Iterable[str] | None = None, at_ms: int = 0) -> None:
        """Start the given nodes (default: all) at `at_ms`."""
        for node_id in node_ids if node_ids is not None else self.node_ids:
            self._control(at_ms, self._booter(node_id))

    def _booter(self, node_id: str) -> Callable[[], None]:
        return lambda: self._boot(node_id)

    def crash(self, node_id: str, at_ms: int) -> None:
        """Stop node_id at at_ms; its app and persisted record survive."""
        self._control(at_ms, lambda: self._crash(node_id))

    def restart(self, node_id: str, at_ms: int) -> None:
        """Restart node_id at at_ms from its persisted record and committed chain."""
        self._control(at_ms, lambda: self._boot(node_id))

    def submit_transactions(
        self, at_ms: int, count: int, node_ids: Iterable[str] | None = None
    ) -> None:
        """Add `count` transactions to the mempools of the given nodes (default: all)."""
        targets = tuple(node_ids) if node_ids is not None else self.node_ids
        self._control(at_ms, lambda: self._add_transactions(targets, count))

    def set_conditions(self, at_ms: int, conditions: NetworkConditions) -> None:
        """Change the network model at at_ms."""

        def apply() -> None:
            self.conditions = conditions
            self._line(f"t={self.now_ms} network {conditions}")

        self._control(at_ms, apply)

    # --- running -----------------------------------------------------------------------------

    def run_until(self, at_ms: int) -> None:
        """Process every delivery due at or before at_ms."""
        while self._queue and self._queue[0].at_ms <= at_ms:
            self._step(heapq.heappop(self._queue))
        self.now_ms = max(self.now_ms, at_ms)

    def run_until_height(
        self, height: int, deadline_ms: int, node_ids: Iterable[str] | None = None
    ) -> bool:
        """Run until the given nodes (default: honest) committed `height`; False at deadline."""
        targets = tuple(node_ids) if node_ids is not None else self.honest_ids()
        while self._queue and self._queue[0].at_ms <= deadline_ms:
            if all(self.nodes[n].app.height >= height for n in targets):
                return True
            self._step(heapq.heappop(self._queue))
        return all(self.nodes[n].app.height >= height for n in targets)

    def agreement_violations(self) -> list[str]:
        """Heights at which two honest nodes committed different blocks, plus app violations."""
        problems = list(self.violations)
        by_height: dict[int, set[bytes]] = {}
        for node_id in self.honest_ids():
            for height, (block_hash, _, _) in enumerate(self.nodes[node_id].app.chain, 1):
                by_height.setdefault(height, set()).add(block_hash)
        for height, hashes in sorted(by_height.items()):
            if len(hashes) > 1:
                problems.append(f"height {height}: {len(hashes)} different blocks committed")
        return problems

    # --- internals ---------------------------------------------------------------------------

    def _push(self, delivery: _Delivery) -> None:
        heapq.heappush(self._queue, delivery)

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _control(self, at_ms: int, action: Callable[[], None]) -> None:
        self._push(_Delivery(at_ms, self._next_sequence(), "", 0, control=action))

    def _schedule(self, at_ms: int, node_id: str, event: Event) -> None:
        node = self.nodes[node_id]
        self._push(_Delivery(at_ms, self._next_sequence(), node_id, node.incarnation, event))

    def _step(self, delivery: _Delivery) -> None:
        self.now_ms = max(self.now_ms, delivery.at_ms)
        if delivery.control is not None:
            delivery.control()
            return
        node = self.nodes[delivery.node_id]
        if node.state is None:
            return
        if delivery.wire:
            self._deliver(
                delivery.node_id, MessageReceived(decode_message(delivery.wire), self.now_ms)
            )
        elif delivery.event is not None and delivery.incarnation == node.incarnation:
            self._deliver(delivery.node_id, delivery.event)

    def _line(self, text: str) -> None:
        if self.record_transcript:
            self.transcript.append(text)

    def _boot(self, node_id: str) -> None:
        node = self.nodes[node_id]
        node.incarnation += 1
        restored = node.persisted
        self._line(f"t={self.now_ms} {node_id} boot persisted={describe_record(restored)}")
        node.state = ConsensusState(node.config, restored)
        self._deliver(node_id, Start(self.now_ms, node.app.height + 1, node.app.last_hash))
        if node.app.mempool:
            self._deliver(node_id, TransactionsPending(node.app.mempool, self.now_ms))

    def _crash(self, node_id: str) -> None:
        node = self.nodes[node_id]
        node.state = None
        node.incarnation += 1
        self._line(f"t={self.now_ms} {node_id} crash")

    def _add_transactions(self, node_ids: tuple[str, ...], count: int) -> None:
        for node_id in node_ids:
            node = self.nodes[node_id]
            node.app.mempool += count
            if node.state is not None:
                self._deliver(node_id, TransactionsPending(node.app.mempool, self.now_ms))

    def _deliver(self, node_id: str, event: Event) -> None:
        node = self.nodes[node_id]
        if node.state is None:
            return
        self._line(f"t={self.now_ms} {node_id} <- {describe_event(event)}")
        actions = node.state.handle(event)
        if node.behaviour is not None:
            actions = node.behaviour(actions)
        for action in actions:
            self._line(f"t={self.now_ms} {node_id} -> {describe_action(action)}")
            self._perform(node_id, action)

    def _perform(self, node_id: str, action: Action) -> None:
        node = self.nodes[node_id]
        now = self.now_ms
        if isinstance(action, Broadcast):
            for other in self.node_ids:
                if other != node_id:
                    self._send(node_id, other, action.message)
        elif isinstance(action, SendTo):
            self._send(node_id, action.node_id, action.message)
        elif isinstance(action, BuildBlock):
            block_hash, block = node.app.build_block(action.height, action.round)
            built = BlockBuilt(action.height, action.round, block_hash, block, now + self.build_ms)
            self._schedule(now + self.build_ms, node_id, built)
        elif isinstance(action, ExecuteBlock):
            valid = node.app.check_block(action.height, action.block_hash, action.block)
            if valid and self.reject_block is not None:
                valid = not self.reject_block(node_id, action.height, action.block)
            at = now + self.execute_ms
            executed = BlockExecuted(action.height, action.block_hash, valid, at)
            self._schedule(at, node_id, executed)
        elif isinstance(action, CommitBlock):
            self._commit(node_id, action)
        elif isinstance(action, Persist):
            node.persisted = decode_persisted_state(encode_persisted_state(action.record))
        elif isinstance(action, ScheduleTimeout):
            self._schedule(max(action.at_ms, now), node_id, Tick(action.at_ms))
        elif isinstance(action, RequestSync):
            delay = self.conditions.delay_ms_max
            self._control(now + delay, lambda: self._sync(node_id, action.peer_node_id))
        elif isinstance(action, Report):
            node.reports[str(action.kind)] += 1

    def _commit(self, node_id: str, action: CommitBlock) -> None:
        node = self.nodes[node_id]
        try:
            verify_certificate(action.certificate, self.validator_set)
        except CertificateError as error:
            self.violations.append(f"{node_id}: bad certificate at {action.height}: {error}")
        problem = node.app.append(
            action.height, action.block_hash, action.block, action.certificate
        )
        if problem:
            self.violations.append(problem)
            return
        node.commit_times_ms[action.height] = self.now_ms
        self._schedule(self.now_ms, node_id, TransactionsPending(node.app.mempool, self.now_ms))

    def _sync(self, node_id: str, peer_id: str) -> None:
        node = self.nodes[node_id]
        peer = self.nodes[peer_id]
        if node.state is None or peer.state is None:
            return
        self._line(f"t={self.now_ms} {node_id} sync from {peer_id} at {peer.app.height}")
        while node.state is not None and node.app.height < peer.app.height:
            height = node.app.height + 1
            block_hash, block, cert = peer.app.chain[height - 1]
            if cert is None:
                return
            try:
                verify_certificate(cert, self.validator_set)
            except CertificateError as error:
                self.violations.append(f"{node_id}: sync certificate rejected: {error}")
                return
            problem = node.app.append(height, block_hash, block, cert)
            if problem:
                self.violations.append(problem)
                return
            node.commit_times_ms[height] = self.now_ms
            self._deliver(node_id, BlockSynced(height, block_hash, self.now_ms))
        if node.state is not None:
            self._deliver(node_id, TransactionsPending(node.app.mempool, self.now_ms))

    def _send(self, sender: str, receiver: str, message: Message) -> None:
        conditions = self.conditions
        if self.drop_rule is not None and self.drop_rule(self.now_ms, sender, receiver, message):
            self._line(f"t={self.now_ms} net drop {describe_message(message)} -> {receiver}")
            return
        if conditions.drop_probability and self.random.random() < conditions.drop_probability:
            return
        wire = encode_message(message)
        copies = 1
        if (
            conditions.duplicate_probability
            and self.random.random() < conditions.duplicate_probability
        ):
            copies = 2
        for _ in range(copies):
            delay = self.random.randint(conditions.delay_ms_min, conditions.delay_ms_max)
            incarnation = self.nodes[receiver].incarnation
            self._push(
                _Delivery(
                    self.now_ms + delay, self._next_sequence(), receiver, incarnation, wire=wire
                )
            )


# --- transcript formatting --------------------------------------------------------------------


def short_hash(value: bytes) -> str:
    """First 8 hex digits of a hash, or "-" when empty."""
    return value.hex()[:8] if value else "-"


def describe_message(message: Message) -> str:
    """One-line summary of a message for transcripts."""
    text = (
        f"{message_kind(message)} h={message.height} r={message.round} "
        f"b={short_hash(getattr(message, 'block_hash', b''))}"
    )
    if isinstance(message, RoundChange):
        prepared = "-" if message.prepared_round is None else str(message.prepared_round)
        text = (
            f"RoundChange h={message.height} r={message.round} pr={prepared} "
            f"pb={short_hash(message.prepared_block_hash)} cert={len(message.prepared_certificate)}"
        )
    elif isinstance(message, Proposal) and message.justification:
        text += f" just={len(message.justification)}"
    return f"{text} from={message.sender}"


def describe_record(record: PersistedState | None) -> str:
    """One-line summary of a persisted record."""
    if record is None:
        return "none"
    prepared = "-" if record.prepared_round is None else str(record.prepared_round)
    votes = ",".join(f"{v.kind}@{v.round}:{short_hash(v.block_hash)}" for v in record.votes)
    return (
        f"h={record.height} r={record.round} pr={prepared} "
        f"pb={short_hash(record.prepared_block_hash)} votes={votes or '-'}"
    )


def describe_event(event: Event) -> str:
    """One-line summary of an event for transcripts."""
    if isinstance(event, MessageReceived):
        return describe_message(event.message)
    if isinstance(event, Start):
        return f"Start h={event.height} last={short_hash(event.last_block_hash)}"
    if isinstance(event, Tick):
        return "Tick"
    if isinstance(event, BlockBuilt):
        return f"BlockBuilt h={event.height} r={event.round} b={short_hash(event.block_hash)}"
    if isinstance(event, BlockExecuted):
        verdict = "valid" if event.valid else "invalid"
        return f"BlockExecuted h={event.height} b={short_hash(event.block_hash)} {verdict}"
    if isinstance(event, TransactionsPending):
        return f"TransactionsPending {event.count}"
    return f"BlockSynced h={event.height} b={short_hash(event.block_hash)}"


def describe_action(action: Action) -> str:
    """One-line summary of an action for transcripts."""
    if isinstance(action, Broadcast):
        return f"Broadcast {describe_message(action.message)}"
    if isinstance(action, SendTo):
        return f"SendTo {action.node_id} {describe_message(action.message)}"
    if isinstance(action, BuildBlock):
        return f"BuildBlock h={action.height} r={action.round}"
    if isinstance(action, ExecuteBlock):
        return f"ExecuteBlock h={action.height} r={action.round} b={short_hash(action.block_hash)}"
    if isinstance(action, CommitBlock):
        return (
            f"CommitBlock h={action.height} b={short_hash(action.block_hash)} "
            f"r={action.certificate.round} seals={len(action.certificate.seals)}"
        )
    if isinstance(action, Persist):
        return f"Persist {describe_record(action.record)}"
    if isinstance(action, ScheduleTimeout):
        return f"ScheduleTimeout {action.at_ms}"
    if isinstance(action, RequestSync):
        return f"RequestSync from={action.from_height} peer={action.peer_node_id}"
    return f"Report {action.kind} {action.detail}"
