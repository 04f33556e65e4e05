"""JSON-RPC over WebSocket at `/ws` (and `/rpc`): every method, plus eth_subscribe/eth_unsubscribe.

Subscriptions: `newHeads` (each committed block's header) and `logs` (the committed logs that
match an address and topics filter). The hub is one per node (the writer process that commits
blocks): its commit hook turns each block into notifications for every subscription and queues
them on their connection. Bounds, each a named constant: connections per node, subscriptions
per connection, notifications queued per connection (a client that does not read is
disconnected with close code 1008 rather than let its queue grow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from chain.errors import YrdError
from chain.ledger import CommittedBlock
from nodes.api.eth_shapes import block_json
from nodes.api.http_io import parse_json
from nodes.api.rpc import MAX_BATCH_REQUESTS, Rpc, error_answer, parse_error
from nodes.api.rpc_logs import logs_of_block
from nodes.api.rpc_params import LogCriteria, RpcError, invalid_params, param, parse_log_criteria

LOGGER = logging.getLogger(__name__)
MAX_CONNECTIONS = 256  # WebSocket clients of one node
MAX_SUBSCRIPTIONS_PER_CONNECTION = 32
MAX_QUEUED_MESSAGES = 1_024  # per connection; past it the client is too slow and is dropped
MAX_MESSAGE_BYTES = 1024 * 1024
SUBSCRIPTION_ID_BYTES = 16
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
HEADER_ONLY_FIELDS = ("transactions", "uncles", "withdrawals")


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its subscriptions and its outgoing queue, on its event loop."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str] = field(
        default_factory=lambda: asyncio.Queue(maxsize=MAX_QUEUED_MESSAGES))
    heads: set[str] = field(default_factory=set)
    logs: dict[str, LogCriteria] = field(default_factory=dict)
    overflowed: bool = False

    @property
    def subscriptions(self) -> int:
        """How many subscriptions the client holds."""
        return len(self.heads) + len(self.logs)

    def notify(self, subscription: str, result: Any) -> None:
        """Queue one notification (from any thread); past the bound, mark it overflowed."""
        message = json.dumps({"jsonrpc": "2.0", "method": "eth_subscription",
                              "params": {"subscription": subscription, "result": result}},
                             separators=(",", ":"))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._enqueue(message)
        else:
            self.loop.call_soon_threadsafe(self._enqueue, message)

    def _enqueue(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


class SubscriptionHub:
    """Every WebSocket connection of the node, fed by the commit hook."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.connections: set[Connection] = set()

    def on_commit(self, committed: CommittedBlock) -> None:
        """Notify each subscription of a committed block."""
        if not any(connection.subscriptions for connection in self.connections):
            return
        header: dict[str, Any] | None = None
        for connection in list(self.connections):
            if connection.heads:
                if header is None:
                    header = block_json(committed.block, committed.receipts, self.rpc.preset,
                                        [])
                    for name in HEADER_ONLY_FIELDS:
                        header.pop(name, None)
                for subscription in connection.heads:
                    connection.notify(subscription, header)
            for subscription, criteria in connection.logs.items():
                for log in logs_of_block(committed.block, committed.receipts, criteria):
                    connection.notify(subscription, log)

    def answer(self, connection: Connection, request: Any) -> dict[str, Any] | None:
        """eth_subscribe and eth_unsubscribe here; every other method as over HTTP."""
        if not isinstance(request, dict) or request.get("method") not in (
                "eth_subscribe", "eth_unsubscribe"):
            return self.rpc.answer(request)
        identifier = request.get("id")
        params = request.get("params", [])
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            if request["method"] == "eth_subscribe":
                result: Any = self.subscribe(connection, params)
            else:
                result = self.unsubscribe(connection, params)
        except RpcError as error:
            return error_answer(identifier, error)
        return {"jsonrpc": "2.0", "id": identifier, "result": result}

    @staticmethod
    def subscribe(connection: Connection, params: list[Any]) -> str:
        """eth_subscribe("newHeads") or eth_subscribe("logs", {address, topics})."""
        kind = param(params, 0)
        if connection.subscriptions >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
            raise RpcError(-32005, f"at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions "
                           "per connection")
        subscription = hex(int.from_bytes(secrets.token_bytes(SUBSCRIPTION_ID_BYTES), "big")
                           | 1)
        if kind == "newHeads":
            connection.heads.add(subscription)
        elif kind == "logs":
            query = param(params, 1, {})
            if not isinstance(query, dict):
                raise invalid_params("the logs filter must be an object")
            connection.logs[subscription] = parse_log_criteria(query)
        else:
            raise invalid_params("subscriptions: newHeads, logs")
        return subscription

    @staticmethod
    def unsubscribe(connection: Connection, params: list[Any]) -> bool:
        """eth_unsubscribe(id): True if it existed."""
        subscription = param(params, 0)
        if not isinstance(subscription, str):
            raise invalid_params("the subscription id must be a 0x-hex string")
        subscription = subscription.lower()
        found = subscription in connection.heads or subscription in connection.logs
        connection.heads.discard(subscription)
        connection.logs.pop(subscription, None)
        return found

    async def serve(self, websocket: WebSocket) -> None:
        """Answer one client until it leaves (or falls too far behind)."""
        if len(self.connections) >= MAX_CONNECTIONS:
            await websocket.close(code=TRY_AGAIN_LATER)
            return
        await websocket.accept()
        connection = Connection(asyncio.get_running_loop())
        self.connections.add(connection)
        sender = asyncio.get_running_loop().create_task(self._send(websocket, connection))
        try:
            while not connection.overflowed:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # web3.py sends its requests as binary frames
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                await connection.queue.put(self._reply(connection, text))
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.discard(connection)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        if connection.overflowed:
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=POLICY_VIOLATION,
                                      reason="too many unread notifications")

    def _reply(self, connection: Connection, message: str) -> str:
        if len(message) > MAX_MESSAGE_BYTES:
            return json.dumps(error_answer(None, RpcError(
                -32600, f"a message holds at most {MAX_MESSAGE_BYTES} bytes")))
        try:
            document = parse_json(message.encode("utf-8"))
        except YrdError:
            return json.dumps(parse_error())
        if isinstance(document, list) and not 0 < len(document) <= MAX_BATCH_REQUESTS:
            return json.dumps(error_answer(None, RpcError(
                -32600, f"a batch holds 1 to {MAX_BATCH_REQUESTS} requests")))
        if isinstance(document, list):
            answer: Any = [self.answer(connection, item) for item in document]
            answer = [item for item in answer if item is not None] or None
        else:
            answer = self.answer(connection, document)
        return json.dumps(answer, separators=(",", ":")) if answer is not None else ""

    @staticmethod
    async def _send(websocket: WebSocket, connection: Connection) -> None:
        while True:
            message = await connection.queue.get()
            if connection.overflowed:
                await websocket.close(code=POLICY_VIOLATION,
                                      reason="too many unread notifications")
                return
            if message:
                await websocket.send_text(message)


def websocket_router(rpc: Rpc) -> APIRouter:
    """`/ws` and `/rpc` over WebSocket; the hub is registered as a commit hook."""
    router = APIRouter()
    hub = SubscriptionHub(rpc)
    rpc.runtime.commit_hooks.append(hub.on_commit)

    @router.websocket("/ws")
    async def json_rpc_ws(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    @router.websocket("/rpc")
    async def json_rpc_ws_at_rpc(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    return router
