"""A lean HTTP/1.1 client for benchmark drivers: keep-alive connections, llhttp parsing.

httpx spends about half a millisecond of CPU per request; a driver that sends a transaction
and polls its receipt makes several requests per transaction and saturated its own core before
the servers did. This client writes pre-encoded requests on persistent connections and parses
answers with httptools (llhttp, the parser uvicorn uses), so one driver process can keep
thousands of requests a second in flight. It understands what the measured servers send:
`Content-Length` and chunked bodies, keep-alive. One request at a time per connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httptools


class LeanHttpError(RuntimeError):
    """A connection failed or an answer could not be parsed."""


class _Answer(asyncio.Protocol):
    """One connection: writes a request, collects the answer's status and body."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or LeanHttpError("connection closed")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(LeanHttpError(f"connection lost: {self._lost}"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_exception(LeanHttpError(f"bad answer: {error}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))
        self._body = []

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._lost is not None or self.transport is None:
            raise LeanHttpError(f"connection lost: {self._lost}")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


class LeanClient:
    """A pool of keep-alive connections to one origin (`http://host:port`)."""

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected an http://host:port URL, got {base_url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._authority = f"{self._host}:{self._port}".encode()
        self._size = connections
        self._idle: asyncio.Queue[_Answer] = asyncio.Queue()
        self._all: list[_Answer] = []

    async def _open(self) -> _Answer:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Answer, self._host, self._port)
        self._all.append(protocol)
        return protocol

    async def start(self) -> None:
        for _ in range(self._size):
            self._idle.put_nowait(await self._open())

    def close(self) -> None:
        for protocol in self._all:
            if protocol.transport is not None:
                protocol.transport.close()

    def encode(self, method: str, path: str, body: bytes = b"",
               headers: Iterator[tuple[str, str]] | None = None) -> bytes:
        """The request's bytes, built once and sent as often as wanted."""
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._authority]
        if body or method == "POST":
            lines += [b"Content-Type: application/json",
                      b"Content-Length: " + str(len(body)).encode()]
        for name, value in headers or ():
            lines.append(f"{name}: {value}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send encoded request bytes on an idle connection; (status, body)."""
        protocol = await self._idle.get()
        try:
            answer = await protocol.exchange(request)
        except LeanHttpError:
            protocol = await self._open()  # replace the broken connection
            raise
        finally:
            self._idle.put_nowait(protocol)
        return answer

    async def rpc(self, path: str, method: str, params: list[Any]) -> dict[str, Any]:
        """One JSON-RPC call; the decoded answer object."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params}).encode()
        status, answer = await self.send(self.encode("POST", path, body))
        if status != 200:
            raise LeanHttpError(f"{method}: HTTP {status}: {answer[:200]!r}")
        decoded = json.loads(answer)
        if not isinstance(decoded, dict):
            raise LeanHttpError(f"{method}: expected a JSON object, got {answer[:200]!r}")
        return decoded


@asynccontextmanager
async def lean_client(base_url: str, connections: int):  # type: ignore[no-untyped-def]
    """A started `LeanClient`, closed afterwards."""
    client = LeanClient(base_url, connections)
    await client.start()
    try:
        yield client
    finally:
        client.close()
