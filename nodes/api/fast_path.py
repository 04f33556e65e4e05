"""The hot routes answered before the web framework: the signed report and JSON-RPC.

`NodeApp` is the node's FastAPI application with one difference: a `GET` of
`/v1/enterprises/{code}/report` and a `POST /rpc` go straight to `FastRoutes`, past FastAPI's
route matching (a pass over the node's whole route table), its dependency solving and the
stack of middleware, each of which wraps every `send` in a closure of its own. The fast path
does what those layers would have done for these two routes, once, inline:

- the header count bound (`EdgeLimits`, 431) and, for `/rpc`, the body bounds: size (413),
  a deadline between chunks (408), depth (`chain.json_document`);
- the same `serve_report` and `Rpc.answer_document` the documented routes call, with the same
  error bodies, and an unexpected failure answered 500 `internal_error` and logged
  (`install_error_handlers`);
- no answer before the journals' group commit covers what the request appended: the audit
  entry of a report, the pending transaction of `eth_sendRawTransaction` (`DurableAnswers`);
- the latency histogram by route (`RouteMetrics`) and the line for a refused request or a
  JSON-RPC error (`RequestLog`, the same `RefusalLog` and budget).

The routes stay in the OpenAPI document (`nodes/api/signed.py`, `nodes/api/rpc.py` declare
them), a client sees the same answers either way, and the in-process test client goes through
here too. WebSocket `/rpc` is not an `http` scope and goes to the framework.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chain.errors import YrdError
from chain.json_document import require_shallow
from nodes.api.durability import Durable
from nodes.api.http_io import (
    check_declared_length,
    error_document,
    error_response,
    extend_body,
    json_response,
    json_typed,
    scope_target,
)
from nodes.api.limits import HTTP_LIMITS, HttpLimits
from nodes.api.request_log import RPC_PATH, RefusalLog
from nodes.api.rpc import MAX_RPC_BODY_BYTES, Rpc, answer_body
from nodes.api.services import NodeServices
from nodes.api.signed import REPORT_ROUTE, serve_report

LOGGER = logging.getLogger(__name__)
REPORT_PATH = re.compile(r"/v1/enterprises/([^/]+)/report")
INTERNAL_ERROR = ("internal_error", "the node failed to answer; the failure is logged")

Answer = Callable[[Scope, Receive], Awaitable[Response | None]]


class ClientGone(Exception):
    """The client disconnected before its request body was read."""


class FastRoutes:
    """Answers report and JSON-RPC requests with every edge rule of the framework path."""

    def __init__(self, services: NodeServices, rpc: Rpc, refusals: RefusalLog,
                 journals: Sequence[Durable], limits: HttpLimits = HTTP_LIMITS) -> None:
        self.services = services
        self.rpc = rpc
        self.refusals = refusals
        self.journals = tuple(journals)
        self.limits = limits

    def route(self, scope: Scope) -> tuple[str, Answer] | None:
        """The route template and handler of a fast request, None for any other request."""
        if scope["type"] != "http":
            return None
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == RPC_PATH:
            return RPC_PATH, self._rpc
        if method == "GET":
            match = REPORT_PATH.fullmatch(path)
            if match is not None:
                code = match.group(1)
                return REPORT_ROUTE, lambda scope, _: self._report(code, scope)
        return None

    def report_route(self, scope: Scope) -> tuple[str, Answer] | None:
        """The signed report's route and handler, None for any other request."""
        found = self.route(scope)
        return found if found is not None and found[0] == REPORT_ROUTE else None

    async def answer(self, template: str, handler: Answer, scope: Scope, receive: Receive,
                     send: Send) -> None:
        """Serve one request on `send`, with the limits, durability, metrics and log."""
        started = time.perf_counter()
        response = await self.respond(handler, scope, receive)
        if response is None:
            return
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
        self.record(template, scope, response, started)

    async def respond(self, handler: Answer, scope: Scope, receive: Receive) -> Response | None:
        """The answer to one request, once the journals cover it (None: the client left)."""
        raw = scope["headers"]
        response: Response | None
        if len(raw) > self.limits.max_header_count:
            response = json_response(error_document(
                "headers_too_large", f"{len(raw)} request headers; at most "
                f"{self.limits.max_header_count}", None), 431)
        else:
            try:
                response = await handler(scope, receive)
            except ClientGone:
                self.refusals.disconnected(scope["method"], scope["path"])
                return None
            except YrdError as error:
                response = error_response(error)
            except Exception:
                LOGGER.exception("unexpected failure on %s %s", scope["method"], scope["path"])
                response = json_response(error_document(*INTERNAL_ERROR, None), 500)
        assert response is not None
        for durable in self.journals:
            await durable()
        return response

    def record(self, template: str, scope: Scope, response: Response, started: float) -> None:
        """The latency histogram and, for a refusal or a JSON-RPC error, the log line."""
        status = response.status_code
        self.services.requests.observe(scope["method"], template, status,
                                       time.perf_counter() - started)
        client = (scope.get("client") or ("", 0))[0]
        if status >= 400:
            self.refusals.refused(scope["method"], scope["path"], status, bytes(response.body),
                                  client)
        elif template == RPC_PATH:
            self.refusals.rpc_refused(scope["method"], scope["path"], status,
                                      bytes(response.body), client)

    async def _report(self, credit_code: str, scope: Scope) -> Response:
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"]}
        return await serve_report(self.services, credit_code, scope_target(scope), headers)

    async def _rpc(self, scope: Scope, receive: Receive) -> Response:
        body = await self._read_body(scope, receive, MAX_RPC_BODY_BYTES)
        if isinstance(body, Response):
            return body
        if body and json_typed(scope):
            require_shallow(body)  # as `BoundedJsonBodies` refuses it on the framework path
        return answer_body(self.rpc, body)

    async def _read_body(self, scope: Scope, receive: Receive, limit: int) -> bytes | Response:
        for name, value in scope["headers"]:
            if name == b"content-length":
                check_declared_length(value.decode("latin-1"), limit)
        body = bytearray()
        while True:
            try:  # a deadline on this task, not `wait_for` (a task of its own per read)
                async with asyncio.timeout(self.limits.body_read_timeout_s):
                    message = await receive()
            except TimeoutError:
                return json_response(error_document(
                    "request_timeout", f"no request body data for "
                    f"{self.limits.body_read_timeout_s:g} s", None), 408)
            if message["type"] != "http.request":
                raise ClientGone()
            extend_body(body, message.get("body", b""), limit)
            if not message.get("more_body", False):
                return bytes(body)


class NodeApp(FastAPI):
    """The node's FastAPI application, with the hot routes' fast path in front of it."""

    fast_routes: FastRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_routes
        if fast is not None:
            found = fast.route(scope)
            if found is not None:
                await fast.answer(found[0], found[1], scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class ReportsFirst:
    """ASGI middleware: the signed report answered by `FastRoutes`, the rest passed on.

    A read worker's application (`nodes.api.read_worker`) is not a `NodeApp`: it serves the
    report here and hands every other request to its own stack.
    """

    def __init__(self, app: ASGIApp, routes: FastRoutes) -> None:
        self.app = app
        self.routes = routes
        self.fast_routes = routes  # the server protocol's direct path reads it (direct_http)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.route(scope)
        if found is not None and found[0] == REPORT_ROUTE:
            await self.routes.answer(found[0], found[1], scope, receive, send)
            return
        await self.app(scope, receive, send)
