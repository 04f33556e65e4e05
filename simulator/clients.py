"""The institutions' side of a run: sending transactions and queries to city nodes.

A client talks to a node of its own city (the first one that is up), or to the nearest
reachable node when its city has none. Transactions that do not commit within
`resubmit_after_s` are sent again (a node that crashed lost its mempool). Nodes anchor their
audit logs every `audit_interval_s`. A flooding validator's forged transactions are also sent
from here, on the flooder's behalf.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chain.cities import City
from chain.crypto import keccak
from chain.errors import YrdError
from chain.ledger import CommittedBlock
from simulator import events as ev
from simulator.byzantine import forged_transaction
from simulator.host import SimulatedHost
from simulator.kernel import Priority
from simulator.queries import (
    QueryRequest,
    append_audit,
    audit_leaf,
    mark_anchored,
    next_audit_batch,
    serve_query,
)
from simulator.queries import make_query as sign_query
from simulator.workload import DELAY_MS_DISPUTE_RESPONSE, SubmittedTransaction, Workload
from simulator.world import World

INTERVAL_MS_FLOOD = 50
"""A flooder sends its forged transactions in batches this far apart."""

COUNT_MAX_RESUBMIT_PER_CHECK = 2_000
"""Transactions resent per check (bounds the work after a long partition)."""

SIZE_BYTES_QUERY_REPLY_MIN = 512


class Clients:
    """Client traffic of one simulation."""

    def __init__(self, simulation: World) -> None:
        self.sim = simulation
        self.workload = Workload(simulation.scenario.workload, simulation.genesis,
                                 simulation.kernel.random)
        self.outcomes: Counter[str] = Counter()
        self._flood_carry: dict[str, float] = {}
        self._flood_nonce = 0
        self._query_serial = 0
        self._anchors: dict[str, int] = {}
        self._anchor_in_flight: set[str] = set()
        spec = simulation.scenario.workload
        self._transaction_peak = spec.transactions_per_s * self.workload.peak_multiplier(
            "transactions")
        self._query_peak = spec.queries_per_s * self.workload.peak_multiplier("queries")

    # --- set-up and arrivals -----------------------------------------------------------------

    def start(self) -> None:
        """Registrations first, then the Poisson processes and periodic checks."""
        kernel = self.sim.kernel
        for submitted in self.workload.setup_transactions(0.0):
            self.send(submitted)
        if self._transaction_peak > 0:
            self._next(ev.TransactionArrival(), self._transaction_peak)
        if self._query_peak > 0:
            self._next(ev.QueryArrival(), self._query_peak)
        spec = self.sim.scenario.workload
        kernel.schedule(spec.resubmit_after_s * 1000 / 3, ev.ResubmitCheck(), Priority.CLIENT)
        kernel.schedule(spec.audit_interval_s * 1000, ev.AuditTick(), Priority.CLIENT)

    def _next(self, event: object, peak_per_s: float) -> None:
        kernel = self.sim.kernel
        gap_ms = kernel.random.expovariate(peak_per_s) * 1000
        kernel.schedule(kernel.now_ms + gap_ms, event, Priority.CLIENT)

    def transaction_arrival(self, event: ev.TransactionArrival) -> None:
        """Thinning: accept the candidate with probability rate(t) / peak."""
        now = self.sim.kernel.now_ms
        city = self.sim.kernel.random.choice(self.workload.cities)
        rate = self.sim.scenario.workload.transactions_per_s * self.workload.multiplier(
            now, "transactions", city)
        if self.sim.kernel.random.random() * self._transaction_peak < rate:
            submitted = self.workload.next_transaction(now, city)
            if submitted is not None:
                self.send(submitted)
        self._next(event, self._transaction_peak)

    def query_arrival(self, event: ev.QueryArrival) -> None:
        """Thinning, then a bank asks about an enterprise it holds a grant for."""
        kernel = self.sim.kernel
        now = kernel.now_ms
        city = kernel.random.choice(self.workload.cities)
        rate = self.sim.scenario.workload.queries_per_s * self.workload.multiplier(
            now, "queries", city)
        if kernel.random.random() * self._query_peak < rate:
            self._issue_query(now, city)
        self._next(event, self._query_peak)

    def _issue_query(self, now: float, city: City) -> None:
        workload = self.workload
        bank = workload.accounts[f"bank:{city.value}"]
        code = workload.pick_enterprise(city, lambda s: bank.label in s.granted)
        if code is None:
            self.outcomes["no_grant_yet"] += 1
            return
        state = workload.enterprises[code]
        self._query_serial += 1
        request = sign_query(self._query_serial, bank.label, bank.key, city, code, state.city,
                             self.sim.kernel.random.randrange(14), now)
        node = self.pick_node(city)
        if node is None:
            self.outcomes["no_node_reachable"] += 1
            return
        arrives = now + self._client_delay(city, node.city, len(request.digest) + 200)
        self.sim.kernel.schedule(arrives, ev.QueryAtNode(node.node_id, node.incarnation,
                                                         request), Priority.NETWORK)

    # --- routing -----------------------------------------------------------------------------

    def pick_node(self, city: City) -> SimulatedHost | None:
        """The first live node of the city, else the nearest reachable live node."""
        network = self.sim.network
        live = [n for n in self.sim.nodes.values() if n.alive and n.started]
        local = [n for n in live if n.city == city]
        if local:
            return local[0]
        reachable = [n for n in live if network.cities_connected(city, n.city)]
        if not reachable:
            return None
        return min(reachable, key=lambda n: (network.one_way_ms(city, n.city), n.node_id))

    def _client_delay(self, a: City, b: City, size_bytes: int) -> float:
        network = self.sim.network
        return network.one_way_ms(a, b) + network.transfer_ms(size_bytes) + network.jitter_ms()

    def send(self, submitted: SubmittedTransaction) -> None:
        """Send (or resend) a transaction to a node of the client's city."""
        now = self.sim.kernel.now_ms
        submitted.last_sent_ms = now
        self.sim.checker.submitted.add(submitted.transaction_hash)
        node = self.pick_node(submitted.city)
        if node is None:
            self.outcomes["transaction_no_node"] += 1
            return
        arrives = now + self._client_delay(submitted.city, node.city, len(submitted.raw))
        self.sim.kernel.schedule(arrives, ev.ClientSubmit(node.node_id, node.incarnation,
                                                          submitted.transaction_hash),
                                 Priority.NETWORK)

    def submit_at(self, node: SimulatedHost, transaction_hash: bytes) -> None:
        """The node admits a client's transaction; payloads go to the origin city's nodes."""
        submitted = self.workload.pending.get(transaction_hash)
        if submitted is None:
            return
        try:
            node.submit_transaction(submitted.raw)
        except YrdError as error:
            self.outcomes[f"transaction_refused_{type(error).__name__}"] += 1
            return
        if submitted.payload:
            for holder in self.sim.nodes.values():
                if holder.city == submitted.city:
                    holder.records.save_payload(keccak(submitted.payload), submitted.payload)

    def resubmit_check(self, event: ev.ResubmitCheck) -> None:
        """Resend what has waited too long."""
        now = self.sim.kernel.now_ms
        wait_ms = self.sim.scenario.workload.resubmit_after_s * 1000
        stale = [s for s in self.workload.pending.values() if now - s.last_sent_ms >= wait_ms]
        for submitted in stale[:COUNT_MAX_RESUBMIT_PER_CHECK]:
            self.outcomes["transaction_resent"] += 1
            self.send(submitted)
        self.sim.kernel.schedule(now + wait_ms / 3, event, Priority.CLIENT)

    # --- commits -----------------------------------------------------------------------------

    def on_block(self, committed: CommittedBlock, now: float) -> None:
        """The first honest commit of a height: latencies and the workload's model."""
        metrics = self.sim.metrics
        for raw, receipt in zip(committed.block.transactions, committed.receipts, strict=True):
            submitted = self.workload.pending.pop(keccak(raw), None)
            if submitted is None:
                continue
            success = receipt.status == 1
            metrics.transaction_latencies_ms.append(now - submitted.first_sent_ms)
            metrics.transaction_kinds[submitted.kind] += 1
            if not success:
                metrics.reverted_kinds[submitted.kind] += 1
            self.workload.on_committed(submitted, success)
            if success and submitted.kind in ("publish", "correct"):
                self.sim.checker.on_record_committed(bytes.fromhex(submitted.subject),
                                                     committed.block.height)
            if success and submitted.kind == "dispute":
                self.sim.kernel.schedule(now + DELAY_MS_DISPUTE_RESPONSE,
                                         ev.DisputeResponse(bytes.fromhex(submitted.subject)),
                                         Priority.CLIENT)
            if submitted.kind == "anchor":
                self._anchor_in_flight.discard(submitted.subject)
                if success:
                    self._anchors[submitted.subject] = self._anchors.get(submitted.subject, 0) + 1
                    mark_anchored(self.sim.nodes[submitted.subject], int(submitted.detail))

    def dispute_response(self, event: ev.DisputeResponse) -> None:
        """The bureau answers."""
        submitted = self.workload.response_to(event.dispute_id, self.sim.kernel.now_ms)
        if submitted is not None:
            self.send(submitted)

    # --- queries -----------------------------------------------------------------------------

    def serve_at(self, node: SimulatedHost, request: QueryRequest) -> None:
        """The node checks and answers a query; payload fetches add their round trips."""
        sim = self.sim
        done = node.spend(sim.scenario.cpu.query_ms)

        def sources(city: City) -> list[SimulatedHost]:
            return [n for n in sim.nodes.values()
                    if n.city == city and n.alive and sim.network.connected(node.node_id,
                                                                            n.node_id)]

        outcome = serve_query(node, request, sim.network, sources)
        if not outcome.served:
            self.outcomes[f"query_{outcome.reason}"] += 1
            sim.metrics.query_outcomes[outcome.reason] += 1
            return
        sim.kernel.schedule(done + outcome.fetch_ms,
                            ev.QueryDone(node.node_id, node.incarnation, request, outcome),
                            Priority.NODE)

    def query_done(self, event: ev.QueryDone) -> None:
        """Log the query in the audit trail, then answer the bank."""
        sim = self.sim
        node = sim.nodes[event.node_id]
        if event.incarnation != node.incarnation or not node.alive:
            sim.metrics.query_outcomes["node_crashed"] += 1
            return
        now = sim.kernel.now_ms
        leaf = audit_leaf(event.request, now)
        position = append_audit(node, leaf)
        sim.checker.on_query_served(node, position, leaf, now)
        reply_ms = self._client_delay(node.city, event.request.bank_city,
                                      max(event.outcome.report_bytes, SIZE_BYTES_QUERY_REPLY_MIN))
        latency = now + reply_ms - event.request.issued_ms
        pair = (event.request.bank_city.value, event.request.enterprise_city.value)
        sim.metrics.query_latencies_ms[pair].append(latency)
        sim.metrics.query_outcomes["served"] += 1

    def audit_tick(self, event: ev.AuditTick) -> None:
        """Every live node with unanchored entries anchors its next batch."""
        sim = self.sim
        now = sim.kernel.now_ms
        for node_id, node in sim.nodes.items():
            if not node.alive or node_id in self._anchor_in_flight or not sim.honest(node_id):
                continue
            batch = next_audit_batch(node)
            if batch is None:
                continue
            first, count, root = batch
            submitted = self.workload.anchor_transaction(
                node_id, self._anchors.get(node_id, 0) + 1, root, count, now)
            submitted.detail = str(first + count - 1)
            self._anchor_in_flight.add(node_id)
            self.send(submitted)
        sim.kernel.schedule(now + sim.scenario.workload.audit_interval_s * 1000, event,
                            Priority.CLIENT)

    # --- flooding ----------------------------------------------------------------------------

    def flood_tick(self, event: ev.FloodTick) -> None:
        """A flooding validator gossips a batch of forged transactions."""
        sim = self.sim
        if sim.adversary.flood_generation.get(event.node_id) != event.generation:
            return
        node = sim.nodes[event.node_id]
        wanted = sim.adversary.flood_rates.get(event.node_id, 0.0) * INTERVAL_MS_FLOOD / 1000
        wanted += self._flood_carry.get(event.node_id, 0.0)
        count = int(wanted)
        self._flood_carry[event.node_id] = wanted - count
        if node.alive:
            for _ in range(count):
                self._flood_nonce += 1
                raw = forged_transaction(sim.kernel.random, sim.preset.chain_id,
                                         sim.genesis.contracts.registry, self._flood_nonce)
                sim.send(node, None, "transactions", raw, sim.kernel.now_ms)
            sim.metrics.counters["flood_transactions"] += count
        sim.kernel.schedule(sim.kernel.now_ms + INTERVAL_MS_FLOOD, event, Priority.CLIENT)

    def external_transaction(self, event: ev.ExternalTransaction) -> None:
        """Send a transaction signed outside the workload (see Simulation.submit_raw)."""
        now = self.sim.kernel.now_ms
        submitted = SubmittedTransaction(keccak(event.raw), event.raw, "external", event.city,
                                         "external", now, now)
        self.workload.pending[submitted.transaction_hash] = submitted
        self.send(submitted)

    def summary(self) -> dict[str, Any]:
        """Client-side counts for metrics.json."""
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "pending_at_end": len(self.workload.pending),
            "enterprises": len(self.workload.enterprises),
            "records_published": sum(1 for r in self.workload.records.values() if r.committed),
            "grants": sum(len(s.granted) for s in self.workload.enterprises.values()),
        }
