"""What the institution-facing API and JSON-RPC need besides the runtime, built once per node.

`build_services(runtime)` creates the request verifier, the consent cache, the payload fetcher,
the audit log and its anchorer, the rate limiters and the request metrics, and registers the
commit hook that keeps the caches and the audit anchors in step with the chain.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.crypto import Address
from chain.errors import NotFound
from chain.ledger import CommittedBlock, Ledger
from chain.presets import node_operator_label
from chain.query.consent import ConsentBook
from chain.query.replay import RequestVerifier
from chain.query.report import EnterpriseRecords, RecordViews
from nodes.api.metrics import Metric, RequestMetrics
from nodes.api.rate_limits import RateLimiter, RateLimits
from nodes.query.audit import AuditAnchorer, AuditLog
from nodes.query.payload_intake import PayloadIntake
from nodes.query.payloads import PayloadFetcher
from nodes.runtime.node import NodeRuntime

AUDIT_FILE_NAME = "audit.journal"


async def no_worker_metrics() -> list[Metric]:
    """A node without read workers has no workers' metrics."""
    return []


@dataclass
class NodeServices:
    """The API's collaborators for one node."""

    runtime: NodeRuntime
    verifier: RequestVerifier
    consent: ConsentBook
    records: EnterpriseRecords
    payloads: PayloadFetcher
    audit: AuditLog
    anchorer: AuditAnchorer
    query_limiter: RateLimiter
    write_limiter: RateLimiter
    requests: RequestMetrics
    intake: PayloadIntake
    record_views: RecordViews = field(default_factory=RecordViews)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    worker_requests: Counter[str] = field(default_factory=Counter)
    """Requests this node's read workers made of it, by method (`nodes.api.workers`)."""
    worker_metrics: Callable[[], Awaitable[list[Metric]]] = field(default=no_worker_metrics)
    """The metric families of this node's read workers (`nodes.api.worker_metrics`)."""

    @property
    def node_summary(self) -> dict[str, str]:
        """This node's id and city, as reports name the node that answered."""
        return {"node_id": self.runtime.config.node_id, "city": self.runtime.node.city.value}

    def on_commit(self, committed: CommittedBlock) -> None:
        """Keep the consent cache and the audit anchors in step with a committed block."""
        self.consent.on_commit(committed.events)
        self.records.on_commit(committed.events)
        self.intake.on_commit(committed.events)
        self.anchorer.on_commit(committed)

    async def close(self) -> None:
        """Close the peer client and the audit file (the node is stopping)."""
        await self.payloads.close()
        self.audit.close()

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine on the loop, keeping a reference until it finishes."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def admit_signed(self, method: str, target: str, headers: Mapping[str, str],
                           now_ms: int) -> Address:
        """The signer of a signed read after signature, window, nonce and rate-limit checks.

        A read worker's services (`nodes.api.read_worker`) check the signature themselves and
        ask this node's process for the nonce and the rate limit: one guard per node."""
        signer = self.verifier.verify(method, target, headers, now_ms)
        self.take_query(signer)
        return signer

    async def audit_query(self, time_ms: int, enterprise: str, querier: str, querier_name: str,
                          querier_city: str, request_hash: str, records: int) -> str:
        """Append an answered query to the audit trail; its entry id (fsynced before the
        answer leaves: `nodes.api.durability`)."""
        entry = self.audit.append(time_ms, enterprise, querier, querier_name, querier_city,
                                  request_hash, records)
        self.anchorer.schedule()
        return entry.entry_id

    def take_query(self, account: bytes) -> None:
        """Spend one of the account's signed-read tokens (429 when out)."""
        self.query_limiter.take(account, time.monotonic())

    def take_write(self, account: bytes) -> None:
        """Spend one of the account's transaction tokens (429 when out)."""
        self.write_limiter.take(account, time.monotonic())

    def metrics(self) -> list[Metric]:
        """Node-level gauges and counters for /metrics."""
        runtime = self.runtime
        ledger = runtime.ledger
        counters = runtime.metrics.counters

        def one(name: str, kind: str, text: str, value: float) -> Metric:
            return Metric(name, kind, text, (({}, value),))

        return [
            one("yrd_height", "gauge", "Height of the last committed block.", ledger.head.height),
            one("yrd_consensus_round", "gauge", "Current consensus round.",
                runtime.consensus.round),
            one("yrd_mempool_transactions", "gauge", "Transactions waiting for a block.",
                len(ledger.mempool)),
            one("yrd_connected_peers", "gauge", "Peers whose channel is up.",
                len(runtime.transport.connected_peers())),
            one("yrd_peer_connections_opened_total", "counter",
                "Peer channel connections established (dialed or accepted).",
                runtime.transport.connections_opened),
            one("yrd_peer_handshakes_refused_total", "counter",
                "Peer connections closed because the certificate was not a validator's.",
                runtime.transport.handshakes_refused),
            one("yrd_peer_requests_served_total", "counter",
                "Peer channel requests this node answered.", runtime.transport.requests_served),
            one("yrd_transaction_signature_recoveries_total", "counter",
                "Transaction signatures recovered (each once per node).",
                ledger.senders.recoveries),
            one("yrd_transaction_signature_cache_hits_total", "counter",
                "Transaction signature verifications answered by the sender cache.",
                ledger.senders.hits),
            one("yrd_query_signature_verifications_total", "counter",
                "Signed API requests whose signature was recovered.",
                self.verifier.verifications),
            one("yrd_replay_cache_nonces", "gauge", "Request nonces remembered.",
                len(self.verifier.guard)),
            one("yrd_consent_contract_calls_total", "counter",
                "Authorization contract calls made for consent checks.", self.consent.calls),
            one("yrd_consent_cache_hits_total", "counter",
                "Consent checks answered from the cache.", self.consent.hits),
            one("yrd_payload_remote_fetches_total", "counter",
                "Payload requests to origin-city nodes.", self.payloads.remote_fetches),
            one("yrd_payload_tampered_total", "counter",
                "Payloads whose bytes did not match their on-chain hash.",
                self.payloads.tampered),
            one("yrd_audit_entries_total", "counter", "Audit entries written.",
                self.audit.last_sequence),
            one("yrd_audit_entries_pending", "gauge", "Audit entries not yet anchored.",
                self.audit.pending),
            one("yrd_audit_anchors_submitted_total", "counter",
                "anchor_audit transactions submitted.", self.anchorer.anchors_submitted),
            one("yrd_payload_pushes_stored_total", "counter",
                "Payloads partners pushed that this node stored (their record committed).",
                self.intake.stored),
            one("yrd_payload_pushes_held", "gauge",
                "Pushed payloads held in memory until their record is committed.",
                len(self.intake.held)),
            one("yrd_payload_pushes_refused_total", "counter",
                "Pushed payloads refused: no record of theirs, over the quota, or malformed.",
                self.intake.refused),
            one("yrd_payload_pushes_expired_total", "counter",
                "Held payloads dropped because no block referred to them in time.",
                self.intake.expired),
            one("yrd_rate_limited_total", "counter", "Requests refused with 429.",
                self.query_limiter.refused + self.write_limiter.refused),
            Metric("yrd_read_worker_requests_total", "counter",
                   "Requests of this node's read workers, by method (ADR 0021).",
                   tuple(({"method": method}, float(count))
                         for method, count in sorted(self.worker_requests.items()))),
            Metric("yrd_commit_latency_seconds", "histogram",
                   "Submit-to-commit latency of the transactions this node received.",
                   (({}, runtime.metrics.commit_latency),)),
            Metric("yrd_node_events_total", "counter", "Runtime event counters by kind.",
                   tuple(({"kind": kind}, float(count))
                         for kind, count in sorted(counters.items()))),
        ]


def build_services(runtime: NodeRuntime, limits: RateLimits | None = None,
                   audit_path: Path | None = None) -> NodeServices:
    """The services of one node; the audit log lives in `audit_path` (default: data dir)."""
    config = runtime.config
    preset = runtime.preset
    limits = limits or RateLimits()
    audit = AuditLog(config.node_id, audit_path or Path(config.data_dir) / AUDIT_FILE_NAME)
    anchorer = AuditAnchorer(audit, runtime.ledger,
                             preset.key(node_operator_label(config.node_id)),
                             runtime.submit_transaction)
    services = NodeServices(
        runtime=runtime,
        verifier=RequestVerifier(preset.chain_id, config.node_id),
        consent=ConsentBook(runtime.ledger),
        records=EnterpriseRecords(runtime.ledger),
        payloads=PayloadFetcher(config.node_id, runtime.record_store, preset,
                                runtime.transport),
        audit=audit,
        anchorer=anchorer,
        query_limiter=RateLimiter(limits.queries, "signed requests"),
        write_limiter=RateLimiter(limits.writes, "transactions"),
        requests=RequestMetrics(),
        intake=PayloadIntake(config.node_id, runtime.record_store,
                             committed_payload_hash(runtime.ledger)),
    )
    runtime.commit_hooks.append(services.on_commit)
    return services


def committed_payload_hash(ledger: Ledger) -> Callable[[bytes], bytes | None]:
    """A committed record's payload hash by record id, None when no such record is committed."""
    def lookup(record_id: bytes) -> bytes | None:
        try:
            return ledger.record(record_id).payload_hash
        except NotFound:
            return None
    return lookup


def wall_clock_ms() -> int:
    """The node's wall clock in milliseconds (request windows, grant expiry)."""
    return int(time.time() * 1000)
