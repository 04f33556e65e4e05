"""Limits at the HTTP edge: one place for every bound a node's server enforces.

`HTTP_LIMITS` names each bound; `server_settings(limits)` turns them into the keyword arguments
of `uvicorn.Config` (any other server setup reads the same `HttpLimits`), and `EdgeLimits` is the
ASGI middleware for the bounds a server does not enforce itself:

- request headers: at most `max_header_bytes` (the server protocol closes a larger head with
  431 as soon as it has read that much) and `max_header_count` headers (431);
- a deadline for the request head (`BoundedHttpProtocol`): a connection that has not sent a
  complete request head `header_read_timeout_s` after it opened, or after its previous response,
  is closed, so slow-header connections (slowloris) cannot pile up;
- a deadline for each chunk of a request body (`body_read_timeout_s`, 408), so a client cannot
  hold a request open by trickling its body;
- at most `max_connections` open connections (uvicorn answers 503 beyond), idle keep-alive
  connections closed after `keep_alive_timeout_s`.

The server protocol is uvicorn's httptools protocol (llhttp, a C parser: about a fifth of a signed
report's CPU less than the pure-Python h11), bounded by `BoundedHttpProtocol`.

Bodies have their own size limits where they are read (`nodes/api/http_io.py`), and every JSON
document goes through `chain/json_document.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from nodes.api.direct_http import serve_directly
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
        "http": bounded_http_protocol(limits),
        "proxy_headers": False,  # no proxy in front: X-Forwarded-For is the client's word
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "backlog": limits.backlog,
    }


HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                  b"content-type: application/json\r\nconnection: close\r\n")


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on each request head.

    llhttp buffers a header until it is complete, so the head's size is counted as it arrives:
    every chunk read while a head is open (and still open after the chunk) counts, and once the
    count passes `max_header_bytes` the connection is answered 431 and closed. A chunk in which a
    head opens or completes is not counted (body bytes may share it), so the bound holds to
    within one read (64 KiB).
    """

    limits: HttpLimits = HTTP_LIMITS
    _head_deadline: asyncio.TimerHandle | None = None
    _head_open: bool = True
    _head_bytes: int = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedWrites(transport, self.loop))  # type: ignore[arg-type]
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        head_was_open = self._head_open
        super().data_received(data)
        if head_was_open and self._head_open:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_large_head()

    def on_message_begin(self) -> None:
        self._head_open = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._disarm_head_deadline()
        if not serve_directly(self):  # the signed report, past the ASGI machinery
            super().on_headers_complete()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm_head_deadline()  # before uvicorn handles a pipelined request
        super().on_response_complete()

    def _refuse_large_head(self) -> None:
        if self.transport.is_closing():
            return
        body = error_document("headers_too_large", "request headers exceed "
                              f"{self.limits.max_header_bytes} bytes", None)
        encoded = json_response(body, 431).body
        self.transport.write(HEAD_TOO_LARGE + b"content-length: %d\r\n\r\n" % len(encoded)
                             + encoded)
        self.transport.close()

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


class CoalescedWrites:
    """A transport whose writes of one event-loop iteration leave as one write.

    uvicorn writes a response's head and body separately, and libuv sends each at once: two
    system calls and two TCP segments per answer. Joined at the end of the iteration, they are
    one (and pipelined answers of the same iteration join too). `close` sends what is waiting
    first; everything else is the wrapped transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Queue `data` for the end of this loop iteration."""
        if not self._waiting:
            self._loop.call_soon(self.flush)
        self._waiting.append(bytes(data))

    def writelines(self, chunks: list[bytes]) -> None:
        """Queue each chunk, in order."""
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Write what is waiting, as one write."""
        waiting, self._waiting = self._waiting, []
        if waiting and not self._transport.is_closing():
            self._transport.write(waiting[0] if len(waiting) == 1 else b"".join(waiting))

    def get_write_buffer_size(self) -> int:
        """Bytes waiting here and in the wrapped transport."""
        return sum(map(len, self._waiting)) + self._transport.get_write_buffer_size()

    def close(self) -> None:
        """Send what is waiting, then close."""
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def bounded_http_protocol(limits: HttpLimits) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's `http=` setting, bound to `limits`."""
    if limits == HTTP_LIMITS:
        return BoundedHttpProtocol
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,), {"limits": limits})


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
