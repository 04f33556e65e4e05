"""A read worker's services and application: signed reports served beside the node's process.

A worker (`yrdchain node --read-workers N`, ADR 0021) holds no per-node state of its own. It
reads the node's LMDB stores read-only through its own `Ledger`, following the writer's
commits (`LedgerFollower`), and answers the signed report with the very `serve_report` the
node's process runs; `WorkerServices` gives that code the same collaborators, except that what
must be one per node goes to the writer over `nodes.runtime.writer_link`:

- the signature and the time window are checked here (one recovery); the nonce and the rate
  limit are admitted by the writer's one replay guard and limiter (`ADMIT`), so a request
  replayed through another worker — or through the node itself — is refused;
- the audit entry is appended by the writer, which answers once its group fsync covered it
  (`AUDIT`): the report leaves only after that;
- payloads of other cities come over the worker's own read connections to the origin nodes
  (`nodes.runtime.read_channels`, mutual TLS with the node's certificate), one batched fetch
  per origin node as in the node itself, checked here against the hash on chain;
- the dashboard's query event goes to the writer's stream (`EMIT`).

JSON-RPC requests that read only committed state (`eth_call` and its kind) are answered here
too (`nodes.api.worker_rpc`). The worker's metrics go to the node's `/metrics` when the writer
asks for them (`worker_metrics_body`, `nodes.api.worker_metrics`). Every other request —
writes, unsigned REST reads, filters, the dashboard, the trail and proofs (which read the
writer's audit trail) — is forwarded to the node's process (`nodes.api.forward`). Every
response carries `x-yrd-read-worker: <index>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chain.codec import Member, decode_head, decode_member
from chain.crypto import Address
from chain.errors import NodeUnavailable
from chain.indexer import MEMBER_PREFIX, BlockEvent, decode_block_events
from chain.ledger import Ledger
from chain.presets import Preset
from chain.query.consent import ConsentBook
from chain.query.replay import RequestVerifier
from chain.query.report import EnterpriseRecords, RecordViews
from nodes.api.fast_path import FastRoutes, ReportsFirst
from nodes.api.forward import ForwardToNode
from nodes.api.limits import EdgeLimits
from nodes.api.metrics import RequestMetrics
from nodes.api.request_log import RefusalLog, RequestLog
from nodes.api.rpc import Rpc
from nodes.api.worker_metrics import encode_families, worker_families
from nodes.api.worker_rpc import LocalReadRpc
from nodes.api.workers import encode_admission, raise_refusal
from nodes.query.payloads import PayloadFetcher
from nodes.runtime.channel import PeerRefused, PeerUnavailable
from nodes.runtime.config import NodeConfig
from nodes.runtime.read_channels import ReadChannels
from nodes.runtime.writer_link import WriterLink, WriterMethod
from nodes.storage.records import RecordStore

WORKER_HEADER = b"x-yrd-read-worker"
MAX_BLOCKS_REPLAYED = 256  # a worker further behind drops its caches instead of replaying


@dataclass
class WorkerRuntime:
    """What the report code reads of a node's runtime, in a worker: ledger, config, events."""

    config: NodeConfig
    preset: Preset
    ledger: Ledger
    link: WriterLink

    @property
    def node(self) -> Any:
        """This node of the preset (its id and city)."""
        return self.preset.node(self.config.node_id)

    def emit(self, event: dict[str, Any]) -> None:
        """A dashboard event, published on the writer's stream."""
        self.link.notify(WriterMethod.EMIT, orjson.dumps(event))

    def emit_deferred(self, produce: Callable[[], list[dict[str, Any]]]) -> None:
        """Events the writer's stream may keep unshaped: a worker shapes them now."""
        for event in produce():
            self.emit(event)


@dataclass
class WorkerServices:
    """`serve_report`'s collaborators in a read worker (see the module docstring)."""

    runtime: WorkerRuntime
    verifier: RequestVerifier
    consent: ConsentBook
    records: EnterpriseRecords
    payloads: PayloadFetcher
    requests: RequestMetrics = field(default_factory=RequestMetrics)
    record_views: RecordViews = field(default_factory=RecordViews)

    @property
    def node_summary(self) -> dict[str, str]:
        """This node's id and city, as reports name the node that answered."""
        return {"node_id": self.runtime.config.node_id, "city": self.runtime.node.city.value}

    async def admit_signed(self, method: str, target: str, headers: Mapping[str, str],
                           now_ms: int) -> Address:
        """Signature and window here; nonce and rate limit by the node's writer."""
        signer, nonce = self.verifier.authenticate(method, target, headers, now_ms)
        await self._ask(WriterMethod.ADMIT, encode_admission(signer, nonce, now_ms))
        return signer

    async def audit_query(self, time_ms: int, enterprise: str, querier: str, querier_name: str,
                          querier_city: str, request_hash: str, records: int) -> str:
        """The writer's audit entry id for this query, once the entry is fsynced."""
        answer = await self._ask(WriterMethod.AUDIT, orjson.dumps({
            "time_ms": time_ms, "enterprise": enterprise, "querier": querier,
            "querier_name": querier_name, "querier_city": querier_city,
            "request_hash": request_hash, "records": records}))
        return answer.decode()

    async def _ask(self, method: WriterMethod, body: bytes) -> bytes:
        try:
            return await self.runtime.link.request(method, body)
        except PeerRefused as refused:
            raise_refusal(refused)
            raise
        except PeerUnavailable as error:
            raise NodeUnavailable(f"this node's process did not answer: {error}") from error

    def on_events(self, events: Sequence[BlockEvent]) -> None:
        """Forget what a committed block changed (as the writer's `NodeServices.on_commit`)."""
        self.consent.on_commit(events)
        self.records.on_commit(events)

    def forget_all(self) -> None:
        """Drop every cached answer (the worker fell far behind)."""
        self.consent = ConsentBook(self.runtime.ledger)
        self.records = EnterpriseRecords(self.runtime.ledger)


class LedgerFollower:
    """Keeps a worker's ledger at the head the writer committed last.

    LMDB shows a reader each commit whole; what the ledger keeps in memory — the head, the
    membership table, and the services' consent and record caches — follows here: each request
    compares the stored head with the one seen last (one read), and on a change the new blocks'
    events are decoded from their receipts and handed to `on_events`, as the writer's commit
    hook does.
    """

    def __init__(self, ledger: Ledger, on_events: Callable[[Sequence[BlockEvent]], None],
                 forget_all: Callable[[], None]) -> None:
        self.ledger = ledger
        self.on_events = on_events
        self.forget_all = forget_all
        self.raw_head = ledger.store.load_head()
        self.blocks_followed = 0

    def refresh(self) -> None:
        """Catch up with the writer's last commit, if it moved."""
        raw = self.ledger.store.load_head()
        if raw is None or raw == self.raw_head:
            return
        ledger = self.ledger
        head = decode_head(raw)
        first = ledger.head.height + 1
        if head.height - first >= MAX_BLOCKS_REPLAYED:
            self.forget_all()
        else:
            for height in range(first, head.height + 1):
                receipts = ledger.receipts(height)
                self.on_events(decode_block_events(
                    [receipt.transaction_hash for receipt in receipts], receipts))
        ledger.members = load_members(ledger)
        ledger.head = head
        self.raw_head = raw
        self.blocks_followed += head.height - first + 1


def load_members(ledger: Ledger) -> dict[Address, Member]:
    """The membership table as the store holds it (the index's member rows)."""
    return {key[1:]: decode_member(value)
            for key, value in ledger.store.scan_index(MEMBER_PREFIX, 1 << 30)}


def worker_services(config: NodeConfig, preset: Preset, ledger: Ledger,
                    record_store: RecordStore, link: WriterLink,
                    peers: ReadChannels) -> WorkerServices:
    """A worker's services over its read-only ledger and record store and its own read
    connections to the other nodes."""
    runtime = WorkerRuntime(config, preset, ledger, link)
    return WorkerServices(
        runtime=runtime,
        verifier=RequestVerifier(preset.chain_id, config.node_id),
        consent=ConsentBook(ledger),
        records=EnterpriseRecords(ledger),
        payloads=PayloadFetcher(config.node_id, record_store, preset,
                                peers),  # type: ignore[arg-type]
    )


async def worker_metrics_body(services: WorkerServices, index: int, _body: bytes) -> bytes:
    """The writer's `METRICS` request: this worker's metric families, labelled with `index`."""
    return encode_families(worker_families(index, services.requests, services.verifier,
                                           services.consent, services.payloads))


class WorkerEdge:
    """ASGI middleware: follow the writer's head, and name the worker on every response."""

    def __init__(self, app: ASGIApp, follower: LedgerFollower, index: int) -> None:
        self.app = app
        self.follower = follower
        self.header = (WORKER_HEADER, str(index).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.follower.refresh()
        header = self.header

        async def named_send(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, named_send)


def create_worker_app(services: WorkerServices, index: int, node_socket: Path) -> ASGIApp:
    """A worker's application: the report here, everything else forwarded to the node."""
    follower = LedgerFollower(services.runtime.ledger, services.on_events, services.forget_all)
    forward = ForwardToNode(node_socket)
    rpc = Rpc(services)  # type: ignore[arg-type]  # only WORKER_METHODS are dispatched here
    refusals = RefusalLog(services.runtime.config.node_id)
    routes = FastRoutes(services, rpc, refusals, journals=())  # type: ignore[arg-type]
    app: ASGIApp = LocalReadRpc(forward, rpc, services.requests)
    app = RequestLog(app, refusals=refusals)
    app = ReportsFirst(app, routes)  # the audit entry is durable when the writer acknowledges
    app = WorkerEdge(app, follower, index)
    return EdgeLimits(app)
