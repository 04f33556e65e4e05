"""One simulation run: the nodes, the network, the clients and the checker on one kernel.

`Simulation(scenario, seed).run()` builds the preset's genesis and validator set (the same keys
and chain id as `yrdchain up`), one `SimulatedHost` per validator (each running the node's own
`NodeRuntime`), the network model, the workload and the fault timeline, then pops events until
the scenario's end or the first invariant violation. It is the `Carrier` of every host: it
carries their frames over the simulated network, schedules their timers and answers their
block fetches.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain.cities import City
from chain.consensus import actions as consensus_actions
from chain.consensus.actions import ReportKind
from chain.consensus.codec import decode_message
from chain.consensus.messages import Message, message_kind
from chain.consensus.signing import verify_message
from chain.consensus.state import ConsensusConfig
from chain.consensus.validators import Validator, ValidatorSet
from chain.execution import Executor
from chain.genesis import Genesis, build_genesis
from chain.ledger import CommittedBlock, executor_for
from chain.presets import get_preset
from nodes.cluster.certificates import consensus_chain_id
from simulator import events as ev
from simulator.adversary import Adversary
from simulator.clients import Clients
from simulator.execution import ExecutionCache
from simulator.faults import apply_fault
from simulator.host import SimulatedHost
from simulator.invariants import InvariantChecker, InvariantViolation, Violation
from simulator.kernel import Kernel, Priority
from simulator.metrics import MetricsCollector
from simulator.network import Network
from simulator.scenario import Scenario

TIMEOUT_MS_SYNC = 10_000
"""A sync request to an unreachable peer gives up after this long (nodes.runtime.node)."""

SIZE_BYTES_SYNC_REQUEST = 128
COUNT_MAX_DECODED_FRAMES = 8_192
"""Decoded consensus frames remembered (one broadcast is decoded once for all receivers)."""

COUNT_PROGRESS_STEPS = 100
"""Progress reports (and periodic record checks) per run."""

COUNT_PROGRESS_STEPS_PER_RECORD_CHECK = 10
"""Every tenth progress step checks that no honest node lost a committed record."""

ProgressCallback = Callable[[float, float], None]
"""(virtual seconds done, virtual seconds total)."""


@functools.cache
def genesis_of(preset_name: str) -> Genesis:
    """Genesis of a preset, built once per process (it is an immutable value)."""
    return build_genesis(get_preset(preset_name))


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run produced."""

    metrics: dict[str, Any]
    violation: Violation | None
    trace: tuple[tuple[float, str], ...]
    events: int


class Simulation:
    """Wires a scenario into a kernel and runs it."""

    def __init__(self, scenario: Scenario, seed: int,
                 progress: ProgressCallback | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.progress = progress
        self.kernel = Kernel(seed)
        self.preset = get_preset(scenario.preset)
        self.genesis = genesis_of(scenario.preset)
        self.validator_set = ValidatorSet(
            tuple(Validator(n.node_id, n.city.title, self.preset.node_public_key(n.node_id))
                  for n in self.preset.nodes),
            consensus_chain_id(self.preset))
        spec = scenario.consensus
        self.nodes: dict[str, SimulatedHost] = {}
        for node_spec in self.preset.nodes:
            config = ConsensusConfig(
                node_spec.node_id, self.preset.node_seed(node_spec.node_id), self.validator_set,
                timeout_ms_round_base=spec.timeout_ms_round_base,
                timeout_ms_round_max=spec.timeout_ms_round_max,
                interval_ms_empty_block=spec.interval_ms_empty_block,
                interval_ms_min_block=spec.interval_ms_min_block,
                delay_ms_sync_grace=spec.delay_ms_sync_grace,
                interval_ms_sync_retry=spec.interval_ms_sync_retry)
            self.nodes[node_spec.node_id] = SimulatedHost(
                node_spec.node_id, node_spec.city, self.genesis, self.validator_set, config,
                scenario.cpu, self)
        self.network = Network(scenario.network, {n: s.city for n, s in self.nodes.items()},
                               self.kernel.random)
        self.metrics = MetricsCollector(scenario.duration_s * 1000)
        self.checker = InvariantChecker(self.validator_set)
        self.adversary = Adversary.of(self.validator_set)
        self.clients = Clients(self)
        self.execution = ExecutionCache(inner=executor_for(self.genesis))
        self._inboxes: dict[str, deque[object]] = {n: deque() for n in self.nodes}
        self._waking: set[str] = set()
        self._decoded: dict[bytes, Message] = {}
        self._verdicts: dict[bytes, bool] = {}
        self._progress_steps = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.FaultDue: lambda e: apply_fault(self, e.fault),
            ev.Deliver: self._enqueue,
            ev.ClientSubmit: self._enqueue,
            ev.QueryAtNode: self._enqueue,
            ev.NodeWake: self._wake,
            ev.NodeInput: self._node_input,
            ev.SyncReply: self._sync_reply,
            ev.QueryDone: self.clients.query_done,
            ev.TransactionArrival: self.clients.transaction_arrival,
            ev.QueryArrival: self.clients.query_arrival,
            ev.ResubmitCheck: self.clients.resubmit_check,
            ev.AuditTick: self.clients.audit_tick,
            ev.DisputeResponse: self.clients.dispute_response,
            ev.FloodTick: self.clients.flood_tick,
            ev.Progress: self._progress,
            ev.ExternalTransaction: self.clients.external_transaction,
        }

    # --- running -----------------------------------------------------------------------------

    def honest(self, node_id: str) -> bool:
        """Never byzantine during this run."""
        return self.adversary.honest(node_id)

    def run(self) -> RunResult:
        """Run to the scenario's end or to the first violation."""
        end_ms = self.scenario.duration_s * 1000
        violation = None
        try:
            self._start()
            while (at := self.kernel.next_time_ms()) is not None and at <= end_ms:
                entry = self.kernel.pop()
                self._handlers[type(entry.event)](entry.event)
            self.kernel.now_ms = end_ms
            honest_alive = [n for n in self.nodes.values() if self.honest(n.node_id)]
            self.checker.check_records(honest_alive, end_ms)
            self.checker.check_audit(self.nodes, end_ms)
        except InvariantViolation as error:
            violation = error.violation
        return RunResult(self._metrics(violation), violation, tuple(self.kernel.trace),
                         self.kernel.dispatched)

    def submit_raw(self, at_s: float, city: City, raw: bytes) -> None:
        """Have a client of `city` send an already signed transaction at virtual time `at_s`.

        Call before `run`; used to feed the simulated and a real network the same sequence.
        """
        self.kernel.schedule(at_s * 1000, ev.ExternalTransaction(city, raw), Priority.CLIENT)

    def _start(self) -> None:
        for fault in self.scenario.faults:
            self.kernel.schedule(fault.at_s * 1000, ev.FaultDue(fault), Priority.FAULT)
        for node in self.nodes.values():
            node.boot()
        self.clients.start()
        step_ms = self.scenario.duration_s * 1000 / COUNT_PROGRESS_STEPS
        for index in range(1, COUNT_PROGRESS_STEPS + 1):
            self.kernel.schedule(index * step_ms, ev.Progress(), Priority.SAMPLE)

    def _progress(self, _: ev.Progress) -> None:
        self._progress_steps += 1
        if self._progress_steps % COUNT_PROGRESS_STEPS_PER_RECORD_CHECK == 0:
            self.checker.check_records(
                [n for n in self.nodes.values() if self.honest(n.node_id) and not n.syncing],
                self.kernel.now_ms)
        if self.progress is not None:
            self.progress(self.kernel.now_ms / 1000, self.scenario.duration_s)

    # --- Carrier -----------------------------------------------------------------------------

    @property
    def executor(self) -> Executor | None:
        """The shared execution cache in shared mode; None (py-evm per node) otherwise."""
        return self.execution if self.scenario.execution == "shared" else None

    def now_ms(self) -> float:
        """Virtual time."""
        return self.kernel.now_ms

    def send(self, node: SimulatedHost, peer: str | None, channel: str, frame: bytes,
             at_ms: float) -> None:
        """Carry a frame to one peer or to all."""
        targets = [peer] if peer is not None else [n for n in self.nodes if n != node.node_id]
        for target in targets:
            receiver = self.nodes.get(target)
            if receiver is None or not receiver.alive:
                self.network.counters[f"{channel}_to_down_node"] += 1
                continue
            arrives = self.network.transmit(at_ms, node.node_id, target, len(frame), channel)
            if arrives is not None:
                self.kernel.schedule(arrives, ev.Deliver(target, receiver.incarnation,
                                                         node.node_id, channel, frame),
                                     Priority.NETWORK)

    def call_at(self, node: SimulatedHost, at_ms: float, callback: Callable[[], None]) -> None:
        """A timer of the node's current incarnation."""
        self.kernel.schedule(at_ms, ev.NodeInput(node.node_id, node.incarnation, callback),
                             Priority.NODE)

    def find_ahead(self, node: SimulatedHost, height: int) -> str | None:
        """The reachable live peer furthest ahead (what a booting node's /status poll finds)."""
        best: tuple[int, str] | None = None
        for peer in self.nodes.values():
            ledger = peer.ledger
            if (peer is node or ledger is None
                    or not self.network.connected(node.node_id, peer.node_id)):
                continue
            if ledger.head.height > height and (best is None or ledger.head.height > best[0]):
                best = (ledger.head.height, peer.node_id)
        return None if best is None else best[1]

    def fetch_blocks(self, node: SimulatedHost, peer: str, from_height: int, limit: int,
                     reply: Callable[[list[bytes]], None]) -> None:
        """Ask `peer` for blocks; the reply travels back over the net (or times out)."""
        source = self.nodes[peer]
        if source.runtime is None or not self.network.connected(node.node_id, peer):
            self.kernel.schedule(self.kernel.now_ms + TIMEOUT_MS_SYNC,
                                 ev.SyncReply(node.node_id, node.incarnation, peer, (), reply),
                                 Priority.NETWORK)
            return
        frames = tuple(source.runtime.committed_blocks(from_height, limit))
        delay = self.network.round_trip_ms(node.city, source.city, SIZE_BYTES_SYNC_REQUEST,
                                           sum(len(f) for f in frames))
        self.kernel.schedule(self.kernel.now_ms + delay,
                             ev.SyncReply(node.node_id, node.incarnation, peer, frames, reply),
                             Priority.NETWORK)

    def block_appended(self, node: SimulatedHost, committed: CommittedBlock, round_number: int,
                       synced: bool, previous_hash: bytes) -> None:
        """A node appended a block: check invariants, feed metrics and the clients."""
        now = self.kernel.now_ms
        block = committed.block
        self.metrics.counters["blocks_synced" if synced else "blocks_committed_by_consensus"] += 1
        self.kernel.note(f"{node.node_id} {'synced' if synced else 'committed'} "
                         f"h={block.height} b={block.hash.hex()[:8]} r={round_number}")
        if not self.honest(node.node_id):
            return
        assert node.ledger is not None
        self.checker.on_commit(node.node_id, block, node.ledger.head.state_root, previous_hash,
                               now)
        if block.height not in self.metrics.blocks:
            self.metrics.on_block(block.height, now, len(block.transactions), round_number,
                                  block.header.proposer)
            self.clients.on_block(committed, now)

    def reported(self, node: SimulatedHost, report: consensus_actions.Report) -> None:
        """Count the state machine's reports; keep round changes for the timeline."""
        self.metrics.reports[str(report.kind)] += 1
        if report.kind is ReportKind.ROUND_CHANGE and self.honest(node.node_id):
            self.metrics.on_round_change(self.kernel.now_ms, node.node_id, report.detail)

    def consensus_started(self, node: SimulatedHost) -> None:
        """A restarted node caught up from a peer: it must hold every committed record."""
        if node.catching_up:
            node.catching_up = False
            self.checker.check_records([node], self.kernel.now_ms)

    # --- node inboxes ------------------------------------------------------------------------

    def _enqueue(self, event: ev.Deliver | ev.ClientSubmit | ev.QueryAtNode) -> None:
        node = self.nodes[event.node_id]
        if event.incarnation != node.incarnation or not node.alive:
            self.metrics.counters["dropped_at_down_node"] += 1
            return
        self._inboxes[event.node_id].append(event)
        self._schedule_wake(node)

    def _schedule_wake(self, node: SimulatedHost) -> None:
        if node.node_id in self._waking:
            return
        self._waking.add(node.node_id)
        self.kernel.schedule(max(node.busy_until_ms, self.kernel.now_ms),
                             ev.NodeWake(node.node_id, node.incarnation), Priority.NETWORK)

    def _wake(self, event: ev.NodeWake) -> None:
        node = self.nodes[event.node_id]
        self._waking.discard(event.node_id)
        inbox = self._inboxes[event.node_id]
        if event.incarnation != node.incarnation or not node.alive:
            inbox.clear()
            return
        if node.busy():
            self._schedule_wake(node)
            return
        if inbox:
            self._process(node, inbox.popleft())
        if inbox and node.alive:
            self._schedule_wake(node)

    def _process(self, node: SimulatedHost, item: object) -> None:
        runtime = node.runtime
        assert runtime is not None
        if isinstance(item, ev.Deliver):
            if item.channel == "consensus":
                message = self._decode(item.frame)
                if message is not None:
                    self.kernel.note(f"{node.node_id} <- {message_kind(message)} "
                                     f"h={message.height} r={message.round} "
                                     f"from={message.sender}")
                    runtime.receive_message(message, self._checked(item.frame, message))
            elif not runtime.receive_transaction(item.frame):
                self.metrics.counters["gossip_refused"] += 1
        elif isinstance(item, ev.ClientSubmit):
            self.clients.submit_at(node, item.transaction_hash)
        elif isinstance(item, ev.QueryAtNode):
            self.clients.serve_at(node, item.request)

    def _decode(self, frame: bytes) -> Message | None:
        message = self._decoded.get(frame)
        if message is None:
            try:
                message = decode_message(frame)
            except Exception:  # a malformed frame is dropped and counted, as the runtime does
                self.metrics.counters["peer_frames_malformed"] += 1
                return None
            if len(self._decoded) >= COUNT_MAX_DECODED_FRAMES:
                self._decoded.clear()
            self._decoded[frame] = message
        return message

    def _checked(self, frame: bytes, message: Message) -> bool:
        """Shared verification only: verify once per frame; True lets receivers skip it."""
        if self.scenario.verification != "shared":
            return False
        verdict = self._verdicts.get(frame)
        if verdict is None:
            verdict = verify_message(message, self.validator_set)
            if len(self._verdicts) >= COUNT_MAX_DECODED_FRAMES:
                self._verdicts.clear()
            self._verdicts[frame] = verdict
        return verdict

    def _node_input(self, event: ev.NodeInput) -> None:
        node = self.nodes[event.node_id]
        if event.incarnation == node.incarnation and node.alive:
            event.callback()

    def _sync_reply(self, event: ev.SyncReply) -> None:
        node = self.nodes[event.node_id]
        if event.incarnation != node.incarnation or not node.alive:
            return
        self.kernel.note(f"{node.node_id} sync reply from {event.peer}: {len(event.frames)}")
        event.reply(list(event.frames))

    # --- results -----------------------------------------------------------------------------

    def _metrics(self, violation: Violation | None) -> dict[str, Any]:
        result = self.metrics.to_dict()
        counters = dict(result["counters"])
        counters.update(self.network.counters)
        result["counters"] = dict(sorted(counters.items()))
        result["run"] = {
            "scenario": self.scenario.name,
            "preset": self.preset.name,
            "validators": len(self.validator_set.validators),
            "fault_tolerance_f": self.validator_set.f,
            "seed": self.seed,
            "duration_s": self.scenario.duration_s,
            "events": self.kernel.dispatched,
            "signatures": "real",
            "verification": self.scenario.verification,
            "execution": self.scenario.execution,
            "execution_counts": self.execution.summary(),
            "byzantine_nodes": sorted(self.adversary.byzantine),
        }
        result["nodes"] = {
            node_id: {
                "alive": node.alive,
                "height": node.ledger.head.height if node.ledger else None,
                "city": node.city.value,
            }
            for node_id, node in self.nodes.items()
        }
        result["invariants"] = {
            "checks": self.checker.checks,
            "heights_checked": len(self.checker.canonical),
            "records_tracked": len(self.checker.records),
            "queries_audited": len(self.checker.served),
            "violation": None if violation is None else {
                "invariant": violation.invariant, "detail": violation.detail,
                "time_s": violation.time_ms / 1000, "height": violation.height,
            },
        }
        result["clients"] = self.clients.summary()
        return result
