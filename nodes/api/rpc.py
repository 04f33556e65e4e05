"""Ethereum JSON-RPC 2.0 at `POST /rpc`, enough for web3.py and ethers.js to work unmodified.

Reads (chain id, blocks, transactions, receipts, logs, nonces, code, balances, calls, gas
estimates, fee history) answer from the ledger; `eth_sendRawTransaction` admits a signed
transaction exactly like `POST /v1/transactions` (a non-member's transaction is refused with an
error, as on any permissioned chain). Batches of up to `MAX_BATCH_REQUESTS` are answered in
order. Errors follow the usual codes: -32700 parse error, -32600 invalid request, -32601 method
not found, -32602 invalid params, 3 execution reverted (with the revert data), -32000 a refusal
of the node (its `data` holds our `{error, field}`), -32603 an internal failure (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from chain.blocks import Block
from chain.crypto import Address
from chain.errors import ExecutionReverted, MalformedInput, YrdError
from chain.execution import BlockEnvironment, CallResult, call_contract, read_account, read_storage
from chain.ledger import ZERO_ADDRESS
from chain.transactions import decode_transaction, recover_sender
from nodes.api.eth_shapes import (
    block_json,
    data,
    log_json,
    quantity,
    receipt_json,
    transaction_json,
)
from nodes.api.http_io import json_response, parse_json, read_body
from nodes.api.services import NodeServices

LOGGER = logging.getLogger(__name__)
MAX_RPC_BODY_BYTES = 4 * 1024 * 1024
MAX_BATCH_REQUESTS = 100
MAX_LOG_BLOCK_RANGE = 10_000  # blocks one eth_getLogs may scan
MAX_LOG_RESULTS = 10_000
MAX_FEE_HISTORY_BLOCKS = 1_024
ESTIMATE_MARGIN_NUMERATOR = 3  # estimates are 1.5x the measured gas plus a fixed allowance
ESTIMATE_MARGIN_DENOMINATOR = 2
ESTIMATE_ALLOWANCE_GAS = 30_000
MAX_ESTIMATE_GAS = 30_000_000
CLIENT_VERSION = "yrdchain/0.1.0"


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def invalid_params(message: str) -> RpcError:
    """-32602."""
    return RpcError(-32602, message)


# Parameter parsing ---------------------------------------------------------------------------


def param(params: list[Any], index: int, default: Any = ...) -> Any:
    """The positional parameter `index`, or `default` when it is absent (required otherwise)."""
    if index < len(params):
        return params[index]
    if default is ...:
        raise invalid_params(f"missing parameter {index}")
    return default


def parse_quantity(value: Any, name: str) -> int:
    """A 0x-hex quantity."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) > 66:
        raise invalid_params(f"{name} must be a 0x-hex quantity")
    try:
        return int(value, 16)
    except ValueError as error:
        raise invalid_params(f"{name} must be a 0x-hex quantity") from error


def parse_data(value: Any, name: str, length: int | None = None) -> bytes:
    """0x-hex data, optionally of an exact length."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise invalid_params(f"{name} must be 0x-hex data")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError as error:
        raise invalid_params(f"{name} must be 0x-hex data") from error
    if length is not None and len(raw) != length:
        raise invalid_params(f"{name} must be {length} bytes")
    return raw


def parse_address(value: Any, name: str = "address") -> Address:
    """A 20-byte address."""
    return parse_data(value, name, 20)


class Rpc:
    """The JSON-RPC methods of one node."""

    def __init__(self, services: NodeServices) -> None:
        self.services = services
        self.runtime = services.runtime
        self.ledger = services.runtime.ledger
        self.preset = services.runtime.preset
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
            "eth_gasPrice": lambda _: "0x0",
            "eth_maxPriorityFeePerGas": lambda _: "0x0",
            "eth_feeHistory": self.fee_history,
            "eth_getBlockByNumber": self.block_by_number,
            "eth_getBlockByHash": self.block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.count_by_number,
            "eth_getBlockTransactionCountByHash": self.count_by_hash,
            "eth_getTransactionByHash": self.transaction_by_hash,
            "eth_getTransactionReceipt": self.transaction_receipt,
            "eth_getLogs": self.logs,
            "eth_getTransactionCount": self.transaction_count,
            "eth_getCode": self.code,
            "eth_getBalance": self.balance,
            "eth_getStorageAt": self.storage_at,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_sendRawTransaction": self.send_raw_transaction,
        }

    # Dispatch --------------------------------------------------------------------------

    def answer(self, request: Any) -> dict[str, Any] | None:
        """The response to one request object, or None for a notification."""
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, RpcError(-32600, "a request is an object with a method"))
        if request.get("jsonrpc") != "2.0":
            return _error(None, RpcError(-32600, 'jsonrpc must be "2.0"'))
        identifier = request.get("id")
        if not isinstance(identifier, str | int | float | type(None)) or isinstance(
                identifier, bool):
            return _error(None, RpcError(-32600, "id must be a string, number or null"))
        params = request.get("params", [])
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            method = self.methods.get(request["method"])
            if method is None:
                raise RpcError(-32601, f"the method {request['method'][:64]} does not exist")
            result = method(params)
        except RpcError as error:
            return _error(identifier, error) if "id" in request else None
        except ExecutionReverted as error:
            return _error(identifier, RpcError(3, f"execution reverted: {error.message}"))
        except YrdError as error:
            return _error(identifier, RpcError(-32000, error.message,
                                               {"error": error.code, "field": error.field}))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            return _error(identifier, invalid_params(f"invalid params: {error}"))
        except Exception:
            LOGGER.exception("JSON-RPC %s failed", request["method"][:64])
            return _error(identifier, RpcError(-32603, "internal error; the failure is logged"))
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": identifier, "result": result}

    # Blocks ----------------------------------------------------------------------------

    def height_of(self, tag: Any) -> int:
        """A block tag, number or EIP-1898 object as a committed height."""
        head = self.ledger.head.height
        if isinstance(tag, dict):
            if "blockHash" in tag:
                return self.ledger.block_by_hash(parse_data(tag["blockHash"], "blockHash",
                                                            32)).height
            tag = tag.get("blockNumber", "latest")
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        height = parse_quantity(tag, "block")
        if height > head:
            raise RpcError(-32000, f"block {height} is ahead of the head {head}")
        return height

    def _block_or_none(self, height: int) -> Block | None:
        raw = self.ledger.store.load_block(height)
        return self.ledger.block(height) if raw is not None else None

    def _block_json(self, block: Block, full: bool) -> dict[str, Any]:
        receipts = self.ledger.receipts(block.height) if block.height else ()
        if full:
            transactions: list[Any] = []
            for index, raw in enumerate(block.transactions):
                transaction = decode_transaction(raw, self.ledger.chain_id)
                transactions.append(transaction_json(transaction, self._sender(transaction),
                                                     block, index))
        else:
            transactions = [data(receipt.transaction_hash) for receipt in receipts]
        return block_json(block, receipts, self.preset, transactions)

    def block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getBlockByNumber(tag, full)."""
        tag = param(params, 0)
        if isinstance(tag, str) and tag.startswith("0x") and (
                parse_quantity(tag, "block") > self.ledger.head.height):
            return None
        block = self._block_or_none(self.height_of(tag))
        return self._block_json(block, bool(param(params, 1, False))) if block else None

    def block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getBlockByHash(hash, full)."""
        height = self.ledger.store.load_height(parse_data(param(params, 0), "hash", 32))
        if height is None:
            return None
        return self._block_json(self.ledger.block(height), bool(param(params, 1, False)))

    def count_by_number(self, params: list[Any]) -> str:
        """eth_getBlockTransactionCountByNumber(tag)."""
        return quantity(len(self.ledger.block(self.height_of(param(params, 0))).transactions))

    def count_by_hash(self, params: list[Any]) -> str | None:
        """eth_getBlockTransactionCountByHash(hash)."""
        height = self.ledger.store.load_height(parse_data(param(params, 0), "hash", 32))
        return None if height is None else quantity(len(self.ledger.block(height).transactions))

    def fee_history(self, params: list[Any]) -> dict[str, Any]:
        """eth_feeHistory(count, newest, percentiles): fees are zero on this chain."""
        count_param = param(params, 0)
        count = count_param if isinstance(count_param, int) and not isinstance(
            count_param, bool) else parse_quantity(count_param, "blockCount")
        newest = self.height_of(param(params, 1, "latest"))
        count = max(0, min(count, MAX_FEE_HISTORY_BLOCKS, newest + 1))
        percentiles = param(params, 2, None)
        if percentiles is not None and not isinstance(percentiles, list):
            raise invalid_params("rewardPercentiles must be an array")
        oldest = newest - count + 1
        history: dict[str, Any] = {
            "oldestBlock": quantity(max(oldest, 0)),
            "baseFeePerGas": ["0x0"] * (count + 1),
            "gasUsedRatio": [self.ledger.block(height).header.gas_used / 300_000_000
                             for height in range(oldest, newest + 1)],
        }
        if percentiles is not None:
            history["reward"] = [["0x0"] * len(percentiles) for _ in range(count)]
        return history

    # Transactions ----------------------------------------------------------------------

    def _sender(self, transaction: Any) -> Address:
        sender = self.ledger.senders.get(transaction.hash)
        return sender if sender is not None else recover_sender(transaction)

    def transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getTransactionByHash(hash): committed or pending, null if unknown."""
        transaction_hash = parse_data(param(params, 0), "hash", 32)
        location = self.ledger.transaction_location(transaction_hash)
        if location is None:
            pending = self.ledger.mempool.by_hash.get(transaction_hash)
            if pending is None:
                return None
            return transaction_json(pending.transaction, pending.sender, None, None)
        height, index = location
        block = self.ledger.block(height)
        transaction = decode_transaction(block.transactions[index], self.ledger.chain_id)
        return transaction_json(transaction, self._sender(transaction), block, index)

    def transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getTransactionReceipt(hash): null until the transaction commits."""
        transaction_hash = parse_data(param(params, 0), "hash", 32)
        location = self.ledger.transaction_location(transaction_hash)
        if location is None:
            return None
        height, index = location
        block = self.ledger.block(height)
        receipts = self.ledger.receipts(height)
        transaction = decode_transaction(block.transactions[index], self.ledger.chain_id)
        first_log = sum(len(receipt.logs) for receipt in receipts[:index])
        return receipt_json(receipts[index], transaction, self._sender(transaction), block,
                            index, first_log)

    def send_raw_transaction(self, params: list[Any]) -> str:
        """eth_sendRawTransaction(raw): admitted like POST /v1/transactions, rate-limited."""
        raw = parse_data(param(params, 0), "raw")
        if not raw:
            raise MalformedInput("transaction is empty", field="raw")
        admitted = self.ledger.senders.admit(self.ledger.decode(raw))
        self.services.take_write(admitted.sender)
        return data(self.runtime.submit_transaction(raw).hash)

    def transaction_count(self, params: list[Any]) -> str:
        """eth_getTransactionCount(address, tag): "pending" counts the mempool."""
        address = parse_address(param(params, 0))
        tag = param(params, 1, "latest")
        if tag == "pending":
            return quantity(self.ledger.pending_nonce(address))
        height = self.height_of(tag)
        if height == self.ledger.head.height:
            return quantity(self.ledger.next_nonce(address))
        return quantity(self._account(address, height).nonce)

    # State -----------------------------------------------------------------------------

    def _environment(self, height: int) -> tuple[bytes, BlockEnvironment]:
        header = self.ledger.block(height).header
        return header.state_root, BlockEnvironment(
            height=height, timestamp_ms=header.timestamp_ms, coinbase=ZERO_ADDRESS,
            chain_id=self.ledger.chain_id)

    def _account(self, address: Address, height: int) -> Any:
        state_root, environment = self._environment(height)
        return read_account(self.ledger.store, state_root, environment, address)

    def code(self, params: list[Any]) -> str:
        """eth_getCode(address, tag)."""
        address = parse_address(param(params, 0))
        return data(self._account(address, self.height_of(param(params, 1, "latest"))).code)

    def balance(self, params: list[Any]) -> str:
        """eth_getBalance(address, tag): zero for every account (ADR 0001: no currency)."""
        address = parse_address(param(params, 0))
        height = self.height_of(param(params, 1, "latest"))
        return quantity(self._account(address, height).balance)

    def storage_at(self, params: list[Any]) -> str:
        """eth_getStorageAt(address, slot, tag)."""
        address = parse_address(param(params, 0))
        slot = parse_quantity(param(params, 1), "slot")
        state_root, environment = self._environment(self.height_of(param(params, 2, "latest")))
        value = read_storage(self.ledger.store, state_root, environment, address, slot)
        return data(value.to_bytes(32, "big"))

    def _call(self, params: list[Any]) -> CallResult:
        call = param(params, 0)
        if not isinstance(call, dict):
            raise invalid_params("the call must be an object with to and data")
        to = parse_address(call.get("to"), "to")
        sender = parse_address(call["from"], "from") if call.get("from") else ZERO_ADDRESS
        payload = call.get("data", call.get("input", "0x"))
        calldata = parse_data(payload, "data")
        height = self.height_of(param(params, 1, "latest"))
        state_root, environment = self._environment(height)
        environment = BlockEnvironment(height + 1, max(environment.timestamp_ms,
                                                       self.ledger.head.timestamp_ms),
                                       ZERO_ADDRESS, self.ledger.chain_id)
        return call_contract(self.ledger.store, state_root, environment, sender, to, calldata)

    def call(self, params: list[Any]) -> str:
        """eth_call(call, tag): error 3 with the revert data when the call reverts."""
        result = self._call(params)
        if not result.success:
            raise RpcError(3, f"execution reverted: {result.revert_reason or ''}".rstrip(": "),
                           data(result.output))
        return data(result.output)

    def estimate_gas(self, params: list[Any]) -> str:
        """eth_estimateGas(call): the measured gas with a margin (gas is never charged)."""
        result = self._call(params)
        if not result.success:
            raise RpcError(3, f"execution reverted: {result.revert_reason or ''}".rstrip(": "),
                           data(result.output))
        estimate = (result.gas_used * ESTIMATE_MARGIN_NUMERATOR // ESTIMATE_MARGIN_DENOMINATOR
                    + ESTIMATE_ALLOWANCE_GAS)
        return quantity(min(estimate, MAX_ESTIMATE_GAS))

    # Logs ------------------------------------------------------------------------------

    def logs(self, params: list[Any]) -> list[dict[str, Any]]:
        """eth_getLogs(filter): address and topic filters over a bounded block range."""
        query = param(params, 0)
        if not isinstance(query, dict):
            raise invalid_params("the filter must be an object")
        if query.get("blockHash") is not None:
            named = self.ledger.block_by_hash(parse_data(query["blockHash"], "blockHash", 32))
            first = last = named.height
        else:
            first = self.height_of(query.get("fromBlock", "latest"))
            last = self.height_of(query.get("toBlock", "latest"))
        if last - first >= MAX_LOG_BLOCK_RANGE:
            raise RpcError(-32005, f"query spans {last - first + 1} blocks; at most "
                           f"{MAX_LOG_BLOCK_RANGE} per request")
        addresses = _address_filter(query.get("address"))
        topics = _topic_filter(query.get("topics"))
        found: list[dict[str, Any]] = []
        for height in range(max(first, 1), last + 1):
            receipts = self.ledger.receipts(height)
            if not any(receipt.logs for receipt in receipts):
                continue
            block: Block | None = None
            log_index = 0
            for index, receipt in enumerate(receipts):
                for log in receipt.logs:
                    if _matches(log.address, log.topics, addresses, topics):
                        block = block or self.ledger.block(height)
                        found.append(log_json(log, block, receipt.transaction_hash, index,
                                              log_index))
                        if len(found) > MAX_LOG_RESULTS:
                            raise RpcError(-32005, f"more than {MAX_LOG_RESULTS} logs; narrow "
                                           "the block range")
                    log_index += 1
        return found


def _address_filter(value: Any) -> set[bytes] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    return {parse_address(item) for item in values}


def _topic_filter(value: Any) -> list[set[bytes] | None]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 4:
        raise invalid_params("topics must be an array of at most 4 positions")
    positions: list[set[bytes] | None] = []
    for position in value:
        if position is None:
            positions.append(None)
        elif isinstance(position, list):
            positions.append({parse_data(topic, "topic", 32) for topic in position})
        else:
            positions.append({parse_data(position, "topic", 32)})
    return positions


def _matches(address: bytes, log_topics: tuple[bytes, ...], addresses: set[bytes] | None,
             topics: list[set[bytes] | None]) -> bool:
    if addresses is not None and address not in addresses:
        return False
    for position, wanted in enumerate(topics):
        if wanted is None:
            continue
        if position >= len(log_topics) or log_topics[position] not in wanted:
            return False
    return True


def _error(identifier: Any, error: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": identifier, "error": body}


def rpc_router(services: NodeServices) -> APIRouter:
    """`POST /rpc`: single requests and batches."""
    router = APIRouter(tags=["json-rpc"])
    rpc = Rpc(services)

    @router.post("/rpc", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [
            {"type": "object", "properties": {
                "jsonrpc": {"type": "string"}, "id": {}, "method": {"type": "string"},
                "params": {"type": "array"}}, "required": ["method"]},
            {"type": "array", "items": {"type": "object"}}]}}}}})
    async def json_rpc(request: Request) -> Response:
        """Ethereum JSON-RPC 2.0 (web3.py, ethers.js): one request or a batch."""
        body = await read_body(request, MAX_RPC_BODY_BYTES)
        try:
            document = parse_json(body)
        except MalformedInput:  # an empty or unparsable body is not a JSON-RPC exchange: 400
            return json_response(_error(None, RpcError(-32700, "parse error: body is not JSON")),
                                 400)
        if isinstance(document, list):
            if not document or len(document) > MAX_BATCH_REQUESTS:
                return json_response(_error(None, RpcError(
                    -32600, f"a batch holds 1 to {MAX_BATCH_REQUESTS} requests")))
            answers = [rpc.answer(item) for item in document]
            return json_response([answer for answer in answers if answer is not None])
        answer = rpc.answer(document)
        return json_response(answer) if answer is not None else Response(status_code=204)

    return router
