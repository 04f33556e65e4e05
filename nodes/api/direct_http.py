"""The signed report answered by the server protocol itself, past the ASGI machinery.

A `GET …/report` is the hot path of the whole node. For each request uvicorn builds a
`RequestResponseCycle` with an `asyncio.Event`, runs the application in an ASGI wrapper task,
and passes the answer through two `send` messages whose headers it checks one by one; the
application (`FastRoutes`) then does the real work. `serve_directly` lets the bounded protocol
(`nodes/api/limits.py`) hand such a request straight to `FastRoutes.respond` and write the
answer bytes itself: the same handler, limits, durability wait, metrics and refusal log, the same
status line and default headers (`date`, `server`) as uvicorn writes, and a keep-alive connection
that goes on exactly as uvicorn's would (`on_response_complete`: the head deadline re-armed, the
keep-alive timer, the next pipelined request).

Anything unusual goes the ordinary way: another route or method, HTTP/1.0 or
`connection: close`, an upgrade, `expect: 100-continue`, a percent-encoded path, a request that
arrives while an earlier one on the connection is still being answered (uvicorn queues it), and
a server at its concurrency limit (uvicorn answers 503).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import Response
    from starlette.types import Message, Receive, Scope

    Answer = Callable[[Scope, Receive], Awaitable[Response | None]]


class Routes(Protocol):
    """What the direct path needs of the application's hot routes (`FastRoutes`)."""

    def report_route(self, scope: Scope) -> tuple[str, Answer] | None: ...

    async def respond(self, handler: Answer, scope: Scope,
                      receive: Receive) -> Response | None: ...

    def record(self, template: str, scope: Scope, response: Response,
               started: float) -> None: ...

LOGGER = logging.getLogger(__name__)


class _NoWaiter:
    """Stands for the cycle's `asyncio.Event`: nothing waits on a direct request's body."""

    @staticmethod
    def set() -> None:
        """Nothing to wake."""


class DirectCycle:
    """What uvicorn's protocol reads of its current request cycle, for a direct request."""

    __slots__ = ("body", "disconnected", "keep_alive", "message_event", "more_body",
                 "response_complete")

    def __init__(self) -> None:
        self.response_complete = False
        self.more_body = True
        self.body = b""
        self.disconnected = False
        self.keep_alive = True  # a graceful shutdown turns it off: close after the answer
        self.message_event = _NoWaiter


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def serve_directly(protocol: Any) -> bool:
    """Take the request whose head just completed on `protocol` (the node's bounded uvicorn
    httptools protocol) if it is a plain signed report; False leaves it to uvicorn."""
    routes: Routes | None = getattr(protocol.app, "fast_routes", None)
    parser = protocol.parser
    if (routes is None or parser.get_method() != b"GET" or parser.should_upgrade()
            or parser.get_http_version() != "1.1" or not parser.should_keep_alive()
            or protocol.expect_100_continue
            or (protocol.cycle is not None and not protocol.cycle.response_complete)):
        return False
    limit = protocol.limit_concurrency
    if limit is not None and (len(protocol.connections) >= limit or len(protocol.tasks) >= limit):
        return False
    parsed = httptools.parse_url(protocol.url)
    raw_path: bytes = parsed.path
    if b"%" in raw_path:
        return False
    scope = protocol.scope
    scope["method"] = "GET"
    scope["path"] = protocol.root_path + raw_path.decode("ascii")
    scope["raw_path"] = raw_path
    scope["query_string"] = parsed.query or b""
    found = routes.report_route(scope)
    if found is None:
        return False
    cycle = DirectCycle()
    protocol.cycle = cycle
    task = protocol.loop.create_task(_answer(protocol, routes, found, scope, cycle))
    task.add_done_callback(protocol.tasks.discard)
    protocol.tasks.add(task)
    return True


def encode_answer(response: Response, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The response as uvicorn writes it: status line, its default headers, the response's."""
    parts = [STATUS_LINE[response.status_code]]
    for name, value in default_headers:
        parts += (name, b": ", value, b"\r\n")
    for name, value in response.raw_headers:
        parts += (name, b": ", value, b"\r\n")
    parts += (b"\r\n", bytes(response.body))
    return b"".join(parts)


async def _answer(protocol: Any, routes: Routes,
                  found: tuple[str, Answer], scope: Scope, cycle: DirectCycle) -> None:
    started = time.perf_counter()
    transport: Any = protocol.transport
    try:
        template, handler = found
        response = await routes.respond(handler, scope, _no_body)
        if response is None or cycle.disconnected:
            return
        transport.write(encode_answer(response, protocol.server_state.default_headers))
        flush = getattr(transport, "flush", None)
        if flush is not None:  # one whole answer: send it now, before a client's end of input
            flush()            # (read next) closes the connection
        routes.record(template, scope, response, started)
    except Exception:  # nothing of the request may escape into the event loop
        LOGGER.exception("failed to answer %s", scope.get("path"))
        transport.close()
        return
    finally:
        cycle.response_complete = True
    if not cycle.keep_alive:
        transport.close()
    protocol.on_response_complete()
