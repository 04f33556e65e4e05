"""Forwarding from a read worker to its node's process: every request the worker does not serve.

A node with read workers accepts connections in every process on one port (`SO_REUSEPORT`);
the kernel spreads connections, not requests, so a worker receives writes, JSON-RPC, the
dashboard and its streams as well. `ForwardToNode` passes each of them to the node's process
over a Unix socket in its data directory, where the node serves the same application as on its
port: HTTP requests with their body and response streamed both ways (server-sent events
included, cut when the client goes), WebSockets frame by frame. A node that cannot be reached
answers 503 `node_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import unix_connect
from websockets.exceptions import WebSocketException

from nodes.api.http_io import error_document, json_response, scope_target
from nodes.api.limits import HTTP_LIMITS
from nodes.api.request_log import FORWARDED_SCOPE_KEY

NODE_SOCKET_FILE_NAME = "http.sock"  # in the node's data directory, beside writer.sock
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade",
                        b"proxy-connection", b"te", b"trailer"})
CONNECT_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = HTTP_LIMITS.body_read_timeout_s
IDLE_CONNECTIONS = 64  # kept open to the node between forwarded requests
WEBSOCKET_CLOSE_TRY_AGAIN = 1013


class ForwardToNode:
    """ASGI application: forward HTTP and WebSocket requests to the node's Unix socket."""

    def __init__(self, node_socket: Path) -> None:
        self.node_socket = node_socket
        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(node_socket)), base_url="http://node",
            timeout=httpx.Timeout(CONNECT_TIMEOUT_S, read=None, write=WRITE_TIMEOUT_S),
            limits=httpx.Limits(max_connections=HTTP_LIMITS.max_connections,
                                max_keepalive_connections=IDLE_CONNECTIONS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[FORWARDED_SCOPE_KEY] = True  # the node logs it: the worker's log stays quiet
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body_done = asyncio.Event()

        async def body() -> Any:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise asyncio.CancelledError
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    body_done.set()
                    return

        headers = [(name, value) for name, value in scope["headers"]
                   if name.lower() not in HOP_BY_HOP]
        has_body = any(name.lower() in (b"content-length", b"transfer-encoding")
                       for name, _ in scope["headers"])
        if not has_body:
            body_done.set()
        request = self.client.build_request(scope["method"], scope_target(scope),
                                            headers=headers,
                                            content=body() if has_body else None)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as error:
            answer = json_response(error_document(
                "node_unavailable", f"this node's process did not answer: {error!r}", None),
                503)
            await answer(scope, receive, send)
            return
        try:
            pump = asyncio.ensure_future(self._pump(response, send))
            watch = asyncio.ensure_future(self._disconnected(receive, body_done))
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finally:
            await response.aclose()

    async def _pump(self, response: httpx.Response, send: Send) -> None:
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(name, value) for name, value in response.headers.raw
                                if name.lower() not in HOP_BY_HOP]})
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _disconnected(self, receive: Receive, body_done: asyncio.Event) -> None:
        await body_done.wait()
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, value in scope["headers"]
                   if name.lower() not in HOP_BY_HOP and name.lower() != b"host"
                   and not name.lower().startswith(b"sec-websocket")]
        try:
            upstream = await unix_connect(str(self.node_socket), "ws://node" + scope_target(scope),
                                          additional_headers=headers,
                                          subprotocols=scope.get("subprotocols") or None,
                                          open_timeout=CONNECT_TIMEOUT_S)
        except (OSError, WebSocketException, TimeoutError):
            await send({"type": "websocket.close", "code": WEBSOCKET_CLOSE_TRY_AGAIN})
            return

        async def client_to_node() -> None:
            while True:
                message: Message = await receive()
                if message["type"] != "websocket.receive":
                    return
                text = message.get("text")
                await upstream.send(text if text is not None else message.get("bytes") or b"")

        async def node_to_client() -> None:
            async for data in upstream:
                kind = "text" if isinstance(data, str) else "bytes"
                await send({"type": "websocket.send", kind: data})

        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        tasks = {asyncio.ensure_future(client_to_node()), asyncio.ensure_future(node_to_client())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": upstream.close_code or 1000})
