"""Limits at the HTTP edge: one place for every bound a node's server enforces.

`HTTP_LIMITS` names each bound; `server_settings(limits)` turns them into the keyword arguments
of `uvicorn.Config` (any other server setup reads the same `HttpLimits`), and `EdgeLimits` is the
ASGI middleware for the bounds a server does not enforce itself:

- request headers: at most `max_header_bytes` (h11 refuses a larger head with 400) and
  `max_header_count` headers (431);
- a deadline for the request head (`BoundedH11Protocol`): a connection that has not sent a
  complete request head `header_read_timeout_s` after it opened, or after its previous response,
  is closed, so slow-header connections (slowloris) cannot pile up;
- a deadline for each chunk of a request body (`body_read_timeout_s`, 408), so a client cannot
  hold a request open by trickling its body;
- at most `max_connections` open connections (uvicorn answers 503 beyond), idle keep-alive
  connections closed after `keep_alive_timeout_s`.

Bodies have their own size limits where they are read (`nodes/api/http_io.py`), and every JSON
document goes through `chain/json_document.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from nodes.api.http_io import error_document, json_response


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The bounds of one node's HTTP server (see the module docstring for what each does)."""

    max_header_bytes: int = 16 * 1024  # a signed request's headers are under 1 KiB
    max_header_count: int = 64  # browsers send about 20
    header_read_timeout_s: float = 10.0  # a whole request head, from connect or last response
    body_read_timeout_s: float = 30.0  # between two chunks of a request body
    keep_alive_timeout_s: float = 5.0  # an idle connection between requests
    max_connections: int = 1_024  # open connections (each costs a few KiB), beyond: 503
    backlog: int = 2_048  # connections waiting in the kernel for accept()


HTTP_LIMITS = HttpLimits()


def server_settings(limits: HttpLimits = HTTP_LIMITS) -> dict[str, Any]:
    """Keyword arguments of `uvicorn.Config` that enforce `limits`."""
    return {
        "http": bounded_h11_protocol(limits),
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "backlog": limits.backlog,
    }


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head."""

    limits: HttpLimits = HTTP_LIMITS
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head arrived
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm_head_deadline()  # before uvicorn handles a pipelined request
        super().on_response_complete()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.limits.header_read_timeout_s,
                                                   self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        waiting_for_head = self.cycle is None or self.cycle.response_complete
        if waiting_for_head and not self.transport.is_closing():
            self.transport.close()


def bounded_h11_protocol(limits: HttpLimits) -> type[BoundedH11Protocol]:
    """The protocol class for uvicorn's `http=` setting, bound to `limits`."""
    if limits == HTTP_LIMITS:
        return BoundedH11Protocol
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"limits": limits})


class RequestBodyTimeout(Exception):
    """A request body chunk did not arrive within the body read timeout."""


class EdgeLimits:
    """ASGI middleware: header count (431) and body read timeout (408)."""

    def __init__(self, app: ASGIApp, limits: HttpLimits = HTTP_LIMITS) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        if len(headers) > self.limits.max_header_count:
            await _answer(send, 431, "headers_too_large",
                          f"{len(headers)} request headers; at most "
                          f"{self.limits.max_header_count}")
            return
        if sum(len(name) + len(value) for name, value in headers) > self.limits.max_header_bytes:
            await _answer(send, 431, "headers_too_large",
                          f"request headers exceed {self.limits.max_header_bytes} bytes")
            return
        body_done = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.limits.body_read_timeout_s)
            except TimeoutError as error:
                raise RequestBodyTimeout() from error
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except RequestBodyTimeout:
            if not started:
                await _answer(send, 408, "request_timeout",
                              f"no request body data for {self.limits.body_read_timeout_s:g} s")


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    response = json_response(error_document(code, message, None), status)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(response.body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": response.body})
