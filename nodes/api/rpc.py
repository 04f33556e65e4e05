"""Ethereum JSON-RPC 2.0 at `POST /rpc`, and over WebSocket at `/ws` and `/rpc`.

web3.py, ethers and viem work unmodified. The methods live by concept: chain reads and fees
(`rpc_blocks.py`), state reads, calls and proofs (`rpc_state.py`), logs (`rpc_logs.py`),
polling filters (`rpc_filters.py`) and subscriptions (`rpc_subscriptions.py`); this module
dispatches and serves HTTP. `eth_sendRawTransaction` admits a signed transaction exactly like
`POST /v1/transactions` (a non-member's transaction is refused with an error, as on any
permissioned chain); a publish sent this way carries no payload, which its publisher uploads
later with `PUT /v1/records/{record_id}/payload`. Batches of up to `MAX_BATCH_REQUESTS` are
answered in order. Errors follow the usual codes: -32700 parse error, -32600 invalid request,
-32601 method not found, -32602 invalid params, 3 execution reverted (with the revert data),
-32005 a limit, -32000 a refusal of the node (its `data` holds our `{error, field}`), -32603
an internal failure (logged). docs/spec/json-rpc.md lists every method.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from chain.errors import ExecutionReverted, MalformedInput, YrdError
from nodes.api.eth_shapes import data, quantity
from nodes.api.http_io import json_response, parse_json, read_body
from nodes.api.rpc_blocks import BlockReads
from nodes.api.rpc_filters import FilterBook
from nodes.api.rpc_logs import collect_logs
from nodes.api.rpc_params import (
    RpcError,
    invalid_params,
    param,
    parse_data,
    parse_log_criteria,
)
from nodes.api.rpc_state import StateReads
from nodes.api.services import NodeServices

LOGGER = logging.getLogger(__name__)
MAX_RPC_BODY_BYTES = 4 * 1024 * 1024
MAX_BATCH_REQUESTS = 100
CLIENT_VERSION = "yrdchain/0.1.0"


class Rpc:
    """The JSON-RPC methods of one node."""

    def __init__(self, services: NodeServices) -> None:
        self.services = services
        self.runtime = services.runtime
        self.ledger = services.runtime.ledger
        self.preset = services.runtime.preset
        self.blocks = BlockReads(self.ledger, self.preset)
        self.state = StateReads(self.ledger, self.blocks.height_of)
        self.filters = FilterBook(self.ledger, self.blocks.height_of, time.monotonic)
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda _: f"{CLIENT_VERSION}/{self.runtime.config.node_id}",
            "net_version": lambda _: str(self.preset.chain_id),
            "net_listening": lambda _: True,
            "net_peerCount": lambda _: quantity(len(self.runtime.transport.connected_peers())),
            "eth_chainId": lambda _: quantity(self.preset.chain_id),
            "eth_blockNumber": lambda _: quantity(self.ledger.head.height),
            "eth_syncing": lambda _: False,
            "eth_accounts": lambda _: [],
            "eth_mining": lambda _: False,
            "eth_hashrate": lambda _: "0x0",
            "eth_getLogs": self.logs,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_subscribe": _needs_websocket,
            "eth_unsubscribe": _needs_websocket,
            **self.blocks.methods(),
            **self.state.methods(),
            **self.filters.methods(),
        }

    def answer(self, request: Any) -> dict[str, Any] | None:
        """The response to one request object, or None for a notification."""
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return error_answer(None, RpcError(-32600, "a request is an object with a method"))
        if request.get("jsonrpc") != "2.0":
            return error_answer(None, RpcError(-32600, 'jsonrpc must be "2.0"'))
        identifier = request.get("id")
        if not isinstance(identifier, str | int | float | type(None)) or isinstance(
                identifier, bool):
            return error_answer(None, RpcError(-32600, "id must be a string, number or null"))
        params = request.get("params", [])
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            method = self.methods.get(request["method"])
            if method is None:
                raise RpcError(-32601, f"the method {request['method'][:64]} does not exist")
            result = method(params)
        except RpcError as error:
            return error_answer(identifier, error) if "id" in request else None
        except ExecutionReverted as error:
            return error_answer(identifier, RpcError(3, f"execution reverted: {error.message}"))
        except YrdError as error:
            return error_answer(identifier, RpcError(-32000, error.message,
                                                     {"error": error.code,
                                                      "field": error.field}))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            return error_answer(identifier, invalid_params(f"invalid params: {error}"))
        except Exception:
            LOGGER.exception("JSON-RPC %s failed", request["method"][:64])
            return error_answer(identifier,
                                RpcError(-32603, "internal error; the failure is logged"))
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": identifier, "result": result}

    def answer_document(self, document: Any) -> Any:
        """The answer to a parsed body: one request or a batch; None if nothing to answer."""
        if isinstance(document, list):
            if not document or len(document) > MAX_BATCH_REQUESTS:
                return error_answer(None, RpcError(
                    -32600, f"a batch holds 1 to {MAX_BATCH_REQUESTS} requests"))
            answers = [self.answer(item) for item in document]
            return [answer for answer in answers if answer is not None] or None
        return self.answer(document)

    def send_raw_transaction(self, params: list[Any]) -> str:
        """eth_sendRawTransaction(raw): admitted like POST /v1/transactions, rate-limited."""
        raw = parse_data(param(params, 0), "raw")
        if not raw:
            raise MalformedInput("transaction is empty", field="raw")
        admitted = self.ledger.senders.admit(self.ledger.decode(raw))
        self.services.take_write(admitted.sender)
        return data(self.runtime.submit_admitted(admitted).hash)  # decoded and recovered once

    def logs(self, params: list[Any]) -> list[dict[str, Any]]:
        """eth_getLogs(filter): address and topic filters over a bounded block range."""
        query = param(params, 0)
        if not isinstance(query, dict):
            raise invalid_params("the filter must be an object")
        if query.get("blockHash") is not None:
            named = self.ledger.block_by_hash(parse_data(query["blockHash"], "blockHash", 32))
            first = last = named.height
        else:
            first = self.blocks.height_of(query.get("fromBlock", "latest"))
            last = self.blocks.height_of(query.get("toBlock", "latest"))
        return collect_logs(self.ledger, first, last, parse_log_criteria(query))


def _needs_websocket(_: list[Any]) -> Any:
    raise RpcError(-32601, "subscriptions need a WebSocket connection: ws://<node>/ws")


def error_answer(identifier: Any, error: RpcError) -> dict[str, Any]:
    """A JSON-RPC error response."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": identifier, "error": body}


def parse_error(reason: str = "body is not JSON") -> dict[str, Any]:
    """-32700: the body is not JSON (`reason` says how)."""
    return error_answer(None, RpcError(-32700, f"parse error: {reason}"))


def answer_body(rpc: Rpc, body: bytes) -> Response:
    """The HTTP answer to a JSON-RPC body: one request or a batch (the route and fast path)."""
    try:
        document = parse_json(body)
    except MalformedInput as error:  # an empty or unparsable body is not an exchange: 400
        return json_response(parse_error(error.message), 400)
    answer = rpc.answer_document(document)
    return json_response(answer) if answer is not None else Response(status_code=204)


RPC_REQUEST_SCHEMA: dict[str, Any] = {"oneOf": [
    {"type": "object", "properties": {
        "jsonrpc": {"type": "string"}, "id": {}, "method": {"type": "string"},
        "params": {"type": "array"}}, "required": ["method"]},
    {"type": "array", "items": {"type": "object"}}]}
RPC_RESPONSE_SCHEMA: dict[str, Any] = {"oneOf": [
    {"$ref": "#/components/schemas/JsonRpcResponse"},
    {"type": "array", "items": {"$ref": "#/components/schemas/JsonRpcResponse"}}]}


def rpc_router(services: NodeServices) -> tuple[APIRouter, Rpc]:
    """`POST /rpc`: single requests and batches; the `Rpc` it serves (for WebSocket too)."""
    router = APIRouter(tags=["json-rpc"])
    rpc = Rpc(services)

    @router.post("/rpc", openapi_extra={
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": RPC_REQUEST_SCHEMA}}},
        "responses": {"200": {"description": "The answer, or answers of a batch in order",
                              "content": {"application/json": {
                                  "schema": RPC_RESPONSE_SCHEMA}}},
                      "204": {"description": "Only notifications were sent"}}})
    async def json_rpc(request: Request) -> Response:
        """Ethereum JSON-RPC 2.0 (web3.py, ethers, viem): one request or a batch."""
        return answer_body(rpc, await read_body(request, MAX_RPC_BODY_BYTES))

    return router, rpc
