"""A network of the node's own runtimes with the real ledger, on one manual clock, for tests.

Each validator is a real `nodes.runtime.node.NodeRuntime` over in-memory ports: the manual
clock and timers of `nodes.runtime.memory_ports`, a block store that survives its crashes, and
two test twins defined here — `HarnessLinks`, a network model (uniform delay, drop and duplicate
probabilities from one seeded `random.Random`, plus a targeted drop rule) as its `Transport`,
and `HarnessPeerBlocks` for catch-up and sync. Transactions are real signed publishes by the
preset's bureaus, blocks are executed by the real ledger (one py-evm execution per block shared
by the nodes, as the simulator's shared mode does). A `Transcribing` wrapper around each state
machine writes every event in and action out as one line for golden transcripts; byzantine
nodes get the behaviours of `simulator.byzantine_actions` around their state machine.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chain.consensus.actions import Action, Report
from chain.consensus.certificate import CommitCertificate, decode_certificate, verify_certificate
from chain.consensus.codec import decode_message
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import CertificateError
from chain.consensus.events import Event
from chain.consensus.messages import Message
from chain.consensus.persistence import decode_persisted_state
from chain.consensus.signing import Signer
from chain.consensus.validators import Validator, ValidatorSet
from chain.errors import YrdError
from chain.genesis import Genesis, build_genesis
from chain.ledger import CommittedBlock, executor_for
from chain.presets import Preset, get_preset
from chain.records import CreditRecord, RecordKind, encode_record, payload_hash, record_id_for
from chain.storage import MemoryBlockStore
from chain.wallet import sign_legacy
from contracts import bindings
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.config import NodeConfig
from nodes.runtime.consensus_setup import ConsensusMachine
from nodes.runtime.frames import encode_frames
from nodes.runtime.memory_ports import DATA_DIR_NONE, ManualScheduler, ManualTimers
from nodes.runtime.node import CONSENSUS_META_KEY, NodeRuntime
from nodes.runtime.ports import (
    CHANNEL_CONSENSUS,
    BlocksReply,
    Channel,
    ImmediateProcessor,
    PeerReply,
    RuntimePorts,
)
from nodes.storage.records import MemoryRecordStore
from simulator.byzantine import block_hash_of
from simulator.byzantine_actions import ByzantineKind, make_behaviour
from simulator.execution import ExecutionCache
from simulator.host import Misbehaving
from tests.chain.consensus.keys import node_names
from tests.chain.consensus.transcript import (
    describe_action,
    describe_event,
    describe_message,
    describe_record,
)

PRESET_BY_SIZE = {4: "local4", 5: "yrd-2020", 7: "yrd-2020"}
"""The preset whose nodes and keys a network of n validators uses (its first n cities)."""

_GENESIS: dict[str, Genesis] = {}


def genesis_of(preset_name: str) -> Genesis:
    """A preset's genesis, built once per test process."""
    if preset_name not in _GENESIS:
        _GENESIS[preset_name] = build_genesis(get_preset(preset_name))
    return _GENESIS[preset_name]


@dataclass(frozen=True, slots=True)
class NetworkConditions:
    """How the network treats each message: uniform delay, drop and duplicate probabilities."""

    delay_ms_min: int = 1
    delay_ms_max: int = 1
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0


DropRule = Callable[[int, str, str, Message], bool]
"""(now_ms, sender, receiver, message) -> True to drop the message (targeted faults)."""


class PublishSource:
    """Signed publishes by the bureaus of the network's cities, round robin, nonces in order."""

    def __init__(self, preset: Preset, genesis: Genesis, cities: list[str]) -> None:
        self.preset = preset
        self.genesis = genesis
        self.cities = cities
        self.nonces: Counter[str] = Counter()
        self.serial = 0

    def next_raw(self) -> bytes:
        """The next signed publish."""
        city = self.cities[self.serial % len(self.cities)]
        self.serial += 1
        bureau = self.preset.key(f"bureau:{city}")
        enterprise = self.preset.enterprise(f"enterprise:{city}:1")
        record = CreditRecord(enterprise.credit_code, RecordKind.TAX, "2024",
                              {"serial": self.serial})
        digest = payload_hash(encode_record(record))
        data = bindings.encode_publish(record_id_for(bureau.address, digest),
                                       enterprise.credit_code.to_bytes32(), int(record.kind),
                                       digest)
        nonce = self.nonces[city]
        self.nonces[city] += 1
        return sign_legacy(bureau, self.preset.chain_id, nonce, self.genesis.contracts.registry,
                           data)


@dataclass
class HarnessNode:
    """One validator: its store (kept across crashes), its runtime while up, what it did."""

    node_id: str
    config: ConsensusConfig
    store: MemoryBlockStore = field(default_factory=MemoryBlockStore)
    runtime: NodeRuntime | None = None
    incarnation: int = 0
    behaviour: Callable[[list[Action]], list[Action]] | None = None
    reports: Counter[str] = field(default_factory=Counter)
    commit_times_ms: dict[int, int] = field(default_factory=dict)
    chain: list[tuple[bytes, CommitCertificate]] = field(default_factory=list)

    @property
    def height(self) -> int:
        """Height of the last block this node appended."""
        return len(self.chain)

    @property
    def mempool(self) -> int:
        """Transactions waiting at the running node (0 while it is down)."""
        return 0 if self.runtime is None else len(self.runtime.ledger.mempool)


@dataclass
class Transcribing:
    """A state machine that writes each event in and each action out to the transcript."""

    inner: ConsensusMachine
    node_id: str
    harness: Harness

    @property
    def round(self) -> int:
        """The wrapped machine's round."""
        return self.inner.round

    def handle(self, event: Event) -> list[Action]:
        """Handle, and write it down."""
        now = self.harness.now_ms
        self.harness.line(f"t={now} {self.node_id} <- {describe_event(event)}")
        actions = self.inner.handle(event)
        for action in actions:
            self.harness.line(f"t={now} {self.node_id} -> {describe_action(action)}")
        return actions


@dataclass
class HarnessLinks:
    """The harness network as one node's transport."""

    harness: Harness
    node_id: str

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """One peer."""
        self.harness.transmit(self.node_id, peer, channel, frame)

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Every other validator."""
        for peer in self.harness.node_ids:
            if peer != self.node_id:
                self.harness.transmit(self.node_id, peer, channel, frame)

    def connected_peers(self) -> list[str]:
        """Every other validator."""
        return [n for n in self.harness.node_ids if n != self.node_id]


@dataclass
class HarnessPeerBlocks:
    """Committed blocks straight from the peer runtimes, one worst-case delay later."""

    harness: Harness
    node_id: str

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """The live peer furthest ahead."""
        live = [(n.height, n.node_id) for n in self.harness.nodes.values()
                if n.runtime is not None and n.node_id != self.node_id and n.height > height]
        reply(max(live)[1] if live else None)

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """The peer's blocks as they are when the reply arrives."""
        harness = self.harness

        def answer() -> None:
            source = harness.nodes[peer]
            harness.line(f"t={harness.now_ms} {self.node_id} sync from {peer} "
                         f"at {source.height}")
            reply([] if source.runtime is None
                  else source.runtime.committed_blocks(from_height, limit))

        harness.scheduler.at(harness.now_ms + harness.conditions.delay_ms_max, answer)


@dataclass
class HarnessObserver:
    """Records commits (checking each certificate) and reports of one node."""

    harness: Harness
    node_id: str

    def block_appended(self, committed: CommittedBlock, round_number: int, synced: bool,
                       previous_hash: bytes) -> None:
        """Append to the node's view of the chain; a bad certificate is a violation."""
        node = self.harness.nodes[self.node_id]
        block = committed.block
        certificate = decode_certificate(block.certificate)
        try:
            verify_certificate(certificate, self.harness.validator_set)
        except CertificateError as error:
            self.harness.violations.append(f"{self.node_id}: bad certificate at "
                                           f"{block.height}: {error}")
        if block.height != node.height + 1:
            self.harness.violations.append(f"{self.node_id}: commit of height {block.height} "
                                           f"on top of {node.height}")
            return
        node.chain.append((block.hash, certificate))
        node.commit_times_ms[block.height] = self.harness.now_ms

    def reported(self, report: Report) -> None:
        """Count it."""
        self.harness.nodes[self.node_id].reports[str(report.kind)] += 1

    def consensus_started(self) -> None:
        """Nothing to record."""


class Harness:
    """N real node runtimes on a simulated network with a manual clock."""

    def __init__(
        self,
        count: int = 4,
        seed: int = 0,
        conditions: NetworkConditions | None = None,
        record_transcript: bool = True,
        timeout_ms_round_base: int = 1_000,
        timeout_ms_round_max: int = 16_000,
        interval_ms_empty_block: int = 5_000,
        delay_ms_sync_grace: int = 500,
        interval_ms_sync_retry: int = 1_000,
    ) -> None:
        self.preset = get_preset(PRESET_BY_SIZE[count])
        self.genesis = genesis_of(self.preset.name)
        names = node_names(count)
        self.validator_set = ValidatorSet(
            tuple(Validator(node_id, city, self.preset.node_public_key(node_id))
                  for node_id, city in names), consensus_chain_id(self.preset))
        self.random = random.Random(seed)
        self.conditions = conditions or NetworkConditions()
        self.record_transcript = record_transcript
        self.transcript: list[str] = []
        self.violations: list[str] = []
        self.drop_rule: DropRule | None = None
        self.scheduler = ManualScheduler()
        self.execution = ExecutionCache(inner=executor_for(self.genesis))
        self.transactions = PublishSource(self.preset, self.genesis,
                                          sorted({city.lower() for _, city in names}))
        self.refused: Counter[str] = Counter()
        self.nodes: dict[str, HarnessNode] = {}
        for node_id, _ in names:
            config = ConsensusConfig(
                node_id=node_id, signing_key_seed=self.preset.node_seed(node_id),
                validator_set=self.validator_set, timeout_ms_round_base=timeout_ms_round_base,
                timeout_ms_round_max=timeout_ms_round_max,
                interval_ms_empty_block=interval_ms_empty_block,
                delay_ms_sync_grace=delay_ms_sync_grace,
                interval_ms_sync_retry=interval_ms_sync_retry)
            self.nodes[node_id] = HarnessNode(node_id, config)

    # --- scenario controls -------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """The manual clock."""
        return self.scheduler.clock.now_ms()

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Node ids in validator order."""
        return self.validator_set.node_ids()

    def honest_ids(self) -> tuple[str, ...]:
        """Nodes without a byzantine behaviour."""
        return tuple(n for n in self.node_ids if self.nodes[n].behaviour is None)

    def set_byzantine(self, node_id: str, kind: ByzantineKind) -> None:
        """Make node_id faulty from its next boot on."""
        chain_id = self.validator_set.chain_id
        signer = Signer(node_id, self.preset.node_seed(node_id), chain_id)
        forger = Signer(node_id, hashlib.sha256(b"forged/" + node_id.encode()).digest(), chain_id)
        self.nodes[node_id].behaviour = make_behaviour(kind, signer, self.validator_set,
                                                       block_hash_of, forger)

    def start(self, node_ids: Iterable[str] | None = None, at_ms: int = 0) -> None:
        """Start the given nodes (default: all) at `at_ms`."""
        for node_id in node_ids if node_ids is not None else self.node_ids:
            self._control(at_ms, lambda n=node_id: self._boot(n))  # type: ignore[misc]

    def crash(self, node_id: str, at_ms: int) -> None:
        """Stop node_id at at_ms; its store (chain and persisted record) survives."""
        self._control(at_ms, lambda: self._crash(node_id))

    def restart(self, node_id: str, at_ms: int) -> None:
        """Restart node_id at at_ms from its store."""
        self._control(at_ms, lambda: self._boot(node_id))

    def submit_transactions(self, at_ms: int, count: int,
                            node_ids: Iterable[str] | None = None) -> None:
        """At at_ms, clients send `count` signed publishes to the given nodes (default: all)."""
        targets = tuple(node_ids) if node_ids is not None else self.node_ids
        self._control(at_ms, lambda: self._submit(targets, count))

    def set_conditions(self, at_ms: int, conditions: NetworkConditions) -> None:
        """Change the network model at at_ms."""

        def apply() -> None:
            self.conditions = conditions
            self.line(f"t={self.now_ms} network {conditions}")

        self._control(at_ms, apply)

    # --- running -----------------------------------------------------------------------------

    def run_until(self, at_ms: int) -> None:
        """Process everything due at or before at_ms."""
        self.scheduler.run_until(at_ms)

    def run_until_height(self, height: int, deadline_ms: int,
                         node_ids: Iterable[str] | None = None) -> bool:
        """Run until the given nodes (default: honest) appended `height`; False at deadline."""
        targets = tuple(node_ids) if node_ids is not None else self.honest_ids()
        return self.scheduler.run_until(
            deadline_ms, lambda: all(self.nodes[n].height >= height for n in targets))

    def agreement_violations(self) -> list[str]:
        """Heights at which two honest nodes appended different blocks, plus other violations."""
        problems = list(self.violations)
        by_height: dict[int, set[bytes]] = {}
        for node_id in self.honest_ids():
            for height, (block_hash, _) in enumerate(self.nodes[node_id].chain, 1):
                by_height.setdefault(height, set()).add(block_hash)
        for height, hashes in sorted(by_height.items()):
            if len(hashes) > 1:
                problems.append(f"height {height}: {len(hashes)} different blocks committed")
        return problems

    def line(self, text: str) -> None:
        """Append a transcript line (when recording)."""
        if self.record_transcript:
            self.transcript.append(text)

    # --- the network -------------------------------------------------------------------------

    def transmit(self, sender: str, receiver: str, channel: Channel, frame: bytes) -> None:
        """Carry a frame under the current conditions (gossip is delayed, never dropped)."""
        conditions = self.conditions
        copies = 1
        if channel == CHANNEL_CONSENSUS:
            message = decode_message(frame)
            if self.drop_rule is not None and self.drop_rule(self.now_ms, sender, receiver,
                                                             message):
                self.line(f"t={self.now_ms} net drop {describe_message(message)} -> {receiver}")
                return
            if conditions.drop_probability and self.random.random() < conditions.drop_probability:
                return
            if (conditions.duplicate_probability
                    and self.random.random() < conditions.duplicate_probability):
                copies = 2
        for _ in range(copies):
            delay = self.random.randint(conditions.delay_ms_min, conditions.delay_ms_max)
            self.scheduler.at(self.now_ms + delay,
                              lambda: self._arrive(receiver, channel, frame))

    def _arrive(self, receiver: str, channel: Channel, frame: bytes) -> None:
        runtime = self.nodes[receiver].runtime
        if runtime is not None:
            runtime.receive_frames(channel, encode_frames([frame]))

    # --- internals ---------------------------------------------------------------------------

    def _control(self, at_ms: int, action: Callable[[], Any]) -> None:
        self.scheduler.at(at_ms, action)

    def _boot(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.runtime is not None:
            return
        node.incarnation += 1
        persisted = node.store.load_meta(CONSENSUS_META_KEY)
        restored = decode_persisted_state(persisted) if persisted else None
        self.line(f"t={self.now_ms} {node_id} boot persisted={describe_record(restored)}")
        ports = RuntimePorts(
            clock=self.scheduler.clock, timers=ManualTimers(self.scheduler),
            transport=HarnessLinks(self, node_id), peer_blocks=HarnessPeerBlocks(self, node_id),
            block_store=node.store, record_store=MemoryRecordStore(),
            processor=ImmediateProcessor(), observer=HarnessObserver(self, node_id),
            executor=self.execution, adaptive_proposals=False)
        config = NodeConfig(node_id, self.preset.name, DATA_DIR_NONE, "127.0.0.1", 0)
        runtime = NodeRuntime(config, self.genesis, self.validator_set, ports, node.config)
        machine: ConsensusMachine = runtime.consensus
        if node.behaviour is not None:
            machine = Misbehaving(machine, node.behaviour)
        runtime.consensus = Transcribing(machine, node_id, self)
        node.runtime = runtime
        runtime.start()

    def _crash(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.runtime is not None:
            node.runtime.halt()
        node.runtime = None
        node.incarnation += 1
        self.line(f"t={self.now_ms} {node_id} crash")

    def _submit(self, targets: tuple[str, ...], count: int) -> None:
        live = [n for n in targets if self.nodes[n].runtime is not None]
        for index in range(count):
            raw = self.transactions.next_raw()
            if not live:
                self.refused["no_live_node"] += 1
                continue
            runtime = self.nodes[live[index % len(live)]].runtime
            assert runtime is not None
            try:
                runtime.submit_transaction(raw)
            except YrdError as error:
                self.refused[type(error).__name__] += 1
