"""JSON-RPC reads of the chain itself: blocks, transactions, receipts, fees.

Every answer is shaped by `nodes/api/eth_shapes.py` as the execution-apis specify;
an unknown block or transaction is `null`, a malformed parameter -32602.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.blocks import Block
from chain.crypto import Address, keccak
from chain.execution import BLOCK_GAS_LIMIT
from chain.ledger import Ledger
from chain.presets import Preset
from chain.transactions import Transaction, decode_transaction, recover_sender
from nodes.api.eth_shapes import (
    NOMINAL_BASE_FEE_WEI,
    PRIORITY_FEE_WEI,
    block_json,
    data,
    quantity,
    receipt_json,
    transaction_json,
)
from nodes.api.rpc_params import RpcError, invalid_params, param, parse_data, parse_quantity

MAX_FEE_HISTORY_BLOCKS = 1_024
MAX_REWARD_PERCENTILES = 100


class BlockReads:
    """eth_getBlock*, eth_getTransaction*, receipts and fee methods of one ledger."""

    def __init__(self, ledger: Ledger, preset: Preset) -> None:
        self.ledger = ledger
        self.preset = preset

    def methods(self) -> dict[str, Callable[[list[Any]], Any]]:
        """The JSON-RPC methods this class answers."""
        return {
            "eth_gasPrice": lambda _: quantity(NOMINAL_BASE_FEE_WEI + PRIORITY_FEE_WEI),
            "eth_maxPriorityFeePerGas": lambda _: quantity(PRIORITY_FEE_WEI),
            "eth_feeHistory": self.fee_history,
            "web3_sha3": lambda params: data(keccak(parse_data(param(params, 0), "data"))),
            "eth_getBlockByNumber": self.block_by_number,
            "eth_getBlockByHash": self.block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.count_by_number,
            "eth_getBlockTransactionCountByHash": self.count_by_hash,
            "eth_getUncleCountByBlockNumber": lambda _: "0x0",
            "eth_getUncleCountByBlockHash": lambda _: "0x0",
            "eth_getTransactionByHash": self.transaction_by_hash,
            "eth_getTransactionByBlockNumberAndIndex": self.transaction_by_number_and_index,
            "eth_getTransactionByBlockHashAndIndex": self.transaction_by_hash_and_index,
            "eth_getTransactionReceipt": self.transaction_receipt,
            "eth_getBlockReceipts": self.block_receipts,
        }

    # Block tags ------------------------------------------------------------------------

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

    def block_at(self, tag: Any) -> Block | None:
        """The block a tag, number or hash object names; None past the head."""
        if isinstance(tag, str) and tag.startswith(("0x", "0X")) and (
                parse_quantity(tag, "block") > self.ledger.head.height):
            return None
        return self.ledger.block(self.height_of(tag))

    def block_named_by_hash(self, value: Any) -> Block | None:
        """The block with this hash, or None."""
        height = self.ledger.store.load_height(parse_data(value, "hash", 32))
        return None if height is None else self.ledger.block(height)

    # Blocks ----------------------------------------------------------------------------

    def sender(self, transaction: Transaction) -> Address:
        """The sender, from the node's cache when it has it."""
        sender = self.ledger.senders.get(transaction.hash)
        return sender if sender is not None else recover_sender(transaction)

    def block_document(self, block: Block, full: bool) -> dict[str, Any]:
        """A block with transaction hashes or, when `full`, transaction objects."""
        receipts = self.ledger.receipts(block.height) if block.height else ()
        if full:
            transactions: list[Any] = [
                self._transaction_at(block, index) for index in range(len(block.transactions))]
        else:
            transactions = [data(receipt.transaction_hash) for receipt in receipts]
        return block_json(block, receipts, self.preset, transactions)

    def block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getBlockByNumber(tag, full)."""
        block = self.block_at(param(params, 0))
        return self.block_document(block, bool(param(params, 1, False))) if block else None

    def block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getBlockByHash(hash, full)."""
        block = self.block_named_by_hash(param(params, 0))
        return self.block_document(block, bool(param(params, 1, False))) if block else None

    def count_by_number(self, params: list[Any]) -> str | None:
        """eth_getBlockTransactionCountByNumber(tag)."""
        block = self.block_at(param(params, 0))
        return None if block is None else quantity(len(block.transactions))

    def count_by_hash(self, params: list[Any]) -> str | None:
        """eth_getBlockTransactionCountByHash(hash)."""
        block = self.block_named_by_hash(param(params, 0))
        return None if block is None else quantity(len(block.transactions))

    # Transactions ----------------------------------------------------------------------

    def _transaction_at(self, block: Block, index: int) -> dict[str, Any]:
        transaction = decode_transaction(block.transactions[index], self.ledger.chain_id)
        return transaction_json(transaction, self.sender(transaction), block, index)

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
        return self._transaction_at(self.ledger.block(height), index)

    def _indexed(self, block: Block | None, index_param: Any) -> dict[str, Any] | None:
        index = parse_quantity(index_param, "index")
        if block is None or index >= len(block.transactions):
            return None
        return self._transaction_at(block, index)

    def transaction_by_number_and_index(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getTransactionByBlockNumberAndIndex(tag, index)."""
        return self._indexed(self.block_at(param(params, 0)), param(params, 1))

    def transaction_by_hash_and_index(self, params: list[Any]) -> dict[str, Any] | None:
        """eth_getTransactionByBlockHashAndIndex(hash, index)."""
        return self._indexed(self.block_named_by_hash(param(params, 0)), param(params, 1))

    # Receipts --------------------------------------------------------------------------

    def receipts_of(self, block: Block) -> list[dict[str, Any]]:
        """Every receipt of a block, with block-wide log indexes."""
        receipts = self.ledger.receipts(block.height) if block.height else ()
        documents = []
        first_log = 0
        for index, receipt in enumerate(receipts):
            transaction = decode_transaction(block.transactions[index], self.ledger.chain_id)
            documents.append(receipt_json(receipt, transaction, self.sender(transaction), block,
                                          index, first_log))
            first_log += len(receipt.logs)
        return documents

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
        return receipt_json(receipts[index], transaction, self.sender(transaction), block,
                            index, first_log)

    def block_receipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        """eth_getBlockReceipts(tag or hash): every receipt of the block, null if unknown."""
        tag = param(params, 0)
        if isinstance(tag, str) and len(tag) == 66:
            block = self.block_named_by_hash(tag)
        else:
            block = self.block_at(tag)
        return None if block is None else self.receipts_of(block)

    # Fees ------------------------------------------------------------------------------

    def fee_history(self, params: list[Any]) -> dict[str, Any]:
        """eth_feeHistory(count, newest, percentiles): the nominal base fee, no tips.

        `baseFeePerGas` has one entry per block plus the next block's, as specified.
        """
        count_param = param(params, 0)
        count = count_param if isinstance(count_param, int) and not isinstance(
            count_param, bool) else parse_quantity(count_param, "blockCount")
        newest = self.height_of(param(params, 1, "latest"))
        count = max(0, min(count, MAX_FEE_HISTORY_BLOCKS, newest + 1))
        percentiles = param(params, 2, None)
        if percentiles is not None and (not isinstance(percentiles, list) or len(
                percentiles) > MAX_REWARD_PERCENTILES or not all(
                isinstance(p, int | float) and 0 <= p <= 100 for p in percentiles)):
            raise invalid_params("rewardPercentiles must be an array of at most "
                                 f"{MAX_REWARD_PERCENTILES} numbers from 0 to 100")
        oldest = newest - count + 1
        history: dict[str, Any] = {
            "oldestBlock": quantity(max(oldest, 0)),
            "baseFeePerGas": [quantity(NOMINAL_BASE_FEE_WEI)] * (count + 1),
            "gasUsedRatio": [self.ledger.block(height).header.gas_used / BLOCK_GAS_LIMIT
                             for height in range(oldest, newest + 1)],
        }
        if percentiles is not None:
            history["reward"] = [[quantity(PRIORITY_FEE_WEI)] * len(percentiles)
                                 for _ in range(count)]
        return history
