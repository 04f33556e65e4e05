"""JSON-RPC reads a read worker answers itself: `eth_call` and the other ledger-only methods.

A worker (ADR 0021) holds the node's ledger read-only, following the writer's commits, so the
JSON-RPC methods that read only committed state give the same answer there as in the node's
process: `LocalReadRpc` answers a `POST /rpc` whose request — or every request of whose batch
— names one of `WORKER_METHODS`, with the same `Rpc` dispatch the node runs (same results,
same error objects). Anything else — transactions, filters, methods that read the mempool
("pending" nonces, pending transactions), a body that is not JSON or is too large — goes on
to the node's process unchanged (`nodes.api.forward`), which answers it as it always did.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chain.errors import YrdError
from nodes.api.http_io import json_response, parse_json
from nodes.api.metrics import RequestMetrics
from nodes.api.request_log import RPC_PATH
from nodes.api.rpc import MAX_RPC_BODY_BYTES, Rpc

WORKER_METHODS = frozenset({
    "eth_call", "eth_chainId", "eth_blockNumber", "net_version", "web3_clientVersion",
    "eth_getCode", "eth_getBalance", "eth_getStorageAt", "eth_getBlockByNumber",
    "eth_getBlockByHash", "eth_getTransactionReceipt", "eth_gasPrice",
    "eth_maxPriorityFeePerGas"})
"""Methods that read only committed state (no mempool, no filters, no writes)."""


def served_here(document: Any) -> bool:
    """Whether every request of a parsed body names a method a worker answers."""
    requests = document if isinstance(document, list) else [document]
    return bool(requests) and all(
        isinstance(request, dict) and request.get("method") in WORKER_METHODS
        for request in requests)


class LocalReadRpc:
    """ASGI middleware: ledger-only JSON-RPC reads here, everything else to `app`. The reads
    answered here are observed in `requests` (the worker's latency histogram by route, which
    the node's `/metrics` shows labelled by worker)."""

    def __init__(self, app: ASGIApp, rpc: Rpc, requests: RequestMetrics | None = None) -> None:
        self.app = app
        self.rpc = rpc
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/rpc":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, complete = await _read_up_to(receive, MAX_RPC_BODY_BYTES)
        if complete:
            try:
                document = parse_json(body)
            except YrdError:
                document = None
            if document is not None and served_here(document):
                answer = self.rpc.answer_document(document)
                await json_response(answer)(scope, receive, send)
                if self.requests is not None:
                    self.requests.observe("POST", RPC_PATH, 200, time.perf_counter() - started)
                return
        await self.app(scope, _replaying(body, complete, receive), send)


async def _read_up_to(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body read so far, and whether it is whole (False past `limit` bytes)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), False
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body), True
        if len(body) > limit:
            return bytes(body), False


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A receive that gives `body` first (whole, or the start of a longer one), then the rest."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay
