"""What a node logs as it works: one line per committed block and per refused request.

Each line is an *event* with fields (`logging` records carrying `extra={FIELDS: {...}}`); the
node process renders them as `key=value` text or JSON lines (`nodes/cli/logs.py`).

- `commit` (INFO): height, block hash, proposer, transactions, reverted receipts, gas used.
  Registered as a commit hook by `create_app`, so the runtime knows nothing of logging format.
- `refused` (INFO for 4xx, WARNING for 429, ERROR for 5xx): method, path, status, the error code
  and field of the `{error, message, field}` body. At most `MAX_REFUSED_LINES_PER_S` lines a
  second, so a flood of refusals cannot flood the disk; the rest are counted and reported in
  one `refused_suppressed` line.
  A JSON-RPC answer is HTTP 200 even when it refuses: an `/rpc` answer whose (small) body holds
  an error object is logged the same way, with `rpc_code`.
- `disconnect` (INFO): the client hung up before its request was read or answered. This is
  ordinary (a closed browser tab, a load generator stopping), so it is one line, not a traceback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import ClientDisconnect

from chain.ledger import CommittedBlock

LOGGER = logging.getLogger("yrdchain.node")
FIELDS = "fields"  # the LogRecord attribute holding an event's fields
MAX_REFUSED_LINES_PER_S = 50  # beyond this, refusals in the same second are only counted
MAX_LOGGED_BODY_BYTES = 2_048  # an error body is small; never buffer more of one to log it
RPC_PATH = "/rpc"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def log_event(level: int, event: str, **fields: Any) -> None:
    """One structured line: `event` with its fields."""
    LOGGER.log(level, event, extra={FIELDS: fields})


def commit_logger(node_id: str) -> Callable[[CommittedBlock], None]:
    """A commit hook that logs each committed block."""
    def log_commit(committed: CommittedBlock) -> None:
        header = committed.block.header
        log_event(logging.INFO, "commit", node=node_id, height=header.height,
                  hash="0x" + committed.block.hash.hex(), proposer=header.proposer,
                  transactions=len(committed.block.transactions),
                  reverted=sum(1 for receipt in committed.receipts if receipt.status != 1),
                  gas_used=header.gas_used)

    return log_commit


def refusal_level(status: int) -> int:
    """How loud a refusal is: a server failure is an error, throttling a warning."""
    if status >= 500:
        return logging.ERROR
    if status == 429:
        return logging.WARNING
    return logging.INFO


def _error_fields(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {key: document[key] for key in ("error", "field") if document.get(key) is not None}


def rpc_error_fields(body: bytes) -> dict[str, Any] | None:
    """The first error of a JSON-RPC answer (single or batch), or None when it has none."""
    if b'"error"' not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    answers = document if isinstance(document, list) else [document]
    for answer in answers:
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            return {"rpc_code": error.get("code"), "message": str(error.get("message"))[:200]}
    return None


class RefusalBudget:
    """Counts refusal lines per second; says when to stop writing them."""

    def __init__(self, limit_per_s: int = MAX_REFUSED_LINES_PER_S) -> None:
        self.limit_per_s = limit_per_s
        self.second = 0
        self.written = 0
        self.suppressed = 0

    def take(self, now_s: float) -> bool:
        """Whether one more line may be written now (reports what the last second dropped)."""
        second = int(now_s)
        if second != self.second:
            if self.suppressed:
                log_event(logging.WARNING, "refused_suppressed", count=self.suppressed,
                          limit_per_s=self.limit_per_s)
            self.second, self.written, self.suppressed = second, 0, 0
        if self.written >= self.limit_per_s:
            self.suppressed += 1
            return False
        self.written += 1
        return True


FORWARDED_SCOPE_KEY = "yrd.forwarded"  # set on a request a read worker forwards to its node


class RefusalLog:
    """A node's lines about refused requests, within one budget per second."""

    def __init__(self, node_id: str = "") -> None:
        self.node_id = node_id
        self.budget = RefusalBudget()

    def refused(self, method: str, path: str, status: int, body: bytes, client: str) -> None:
        """Log a 4xx/5xx answer (its error code and field read from the body)."""
        if self.budget.take(time.monotonic()):
            log_event(refusal_level(status), "refused", node=self.node_id, method=method,
                      path=path, status=status, **_error_fields(body), client=client)

    def rpc_refused(self, method: str, path: str, status: int, body: bytes,
                    client: str) -> None:
        """Log a JSON-RPC answer that carries an error (a 200 with `error` inside)."""
        if len(body) > MAX_LOGGED_BODY_BYTES:
            return
        refused = rpc_error_fields(body)
        if refused is not None and self.budget.take(time.monotonic()):
            log_event(logging.INFO, "refused", node=self.node_id, method=method, path=path,
                      status=status, **refused, client=client)

    def disconnected(self, method: str, path: str) -> None:
        """A quiet line: the client went away before its request was read."""
        log_event(logging.INFO, "disconnect", node=self.node_id, method=method, path=path)


class RequestLog:
    """ASGI middleware: a line per refused request, a quiet line per client disconnect."""

    def __init__(self, app: ASGIApp, refusals: RefusalLog | None = None,
                 node_id: str = "") -> None:
        self.app = app
        self.refusals = refusals if refusals is not None else RefusalLog(node_id)
        self.node_id = self.refusals.node_id
        self.budget = self.refusals.budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()
        rpc = scope["path"] == RPC_PATH

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif (message["type"] == "http.response.body" and (status >= 400 or rpc)
                  and len(body) <= MAX_LOGGED_BODY_BYTES):
                body.extend(bytes(message.get("body", b""))[:MAX_LOGGED_BODY_BYTES + 1])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ClientDisconnect:
            self.refusals.disconnected(scope["method"], scope["path"])
            return
        if scope.get(FORWARDED_SCOPE_KEY):
            return  # a read worker passed it to its node, which logs it (ADR 0021)
        client = (scope.get("client") or ("", 0))[0]
        if status >= 400:
            self.refusals.refused(scope["method"], scope["path"], status, bytes(body), client)
        elif rpc:
            self.refusals.rpc_refused(scope["method"], scope["path"], status, bytes(body),
                                      client)
