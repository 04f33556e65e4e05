"""Our blocks, transactions, receipts and logs in the JSON shapes of the Ethereum JSON-RPC.

Quantities are 0x-hex without leading zeros, data is 0x-hex of bytes, addresses are EIP-55.
Fields our chain does not have take their post-merge values (difficulty 0, nonce 0, no uncles);
`baseFeePerGas` is a nominal 1 wei, never charged (ADR 0013: fee-market clients need a non-zero
base fee to compute fees, and no account holds currency to pay one); `timestamp` is the
block's millisecond timestamp in seconds; `miner` is the operator account of the node that
proposed the block; `extraData` holds the proposer's node id.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from chain.blocks import Block, encode_block
from chain.crypto import Address, address_text, keccak
from chain.execution import BLANK_ROOT_HASH, BLOCK_GAS_LIMIT, Log, Receipt, contract_address
from chain.presets import Preset, node_operator_label
from chain.transactions import DYNAMIC_FEE_TYPE, Transaction

ZERO_HASH = "0x" + "00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
EMPTY_UNCLES_HASH = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
BLOOM_BYTES = 256
MAX_EXTRA_DATA_BYTES = 32
NOMINAL_BASE_FEE_WEI = 1  # advertised so EIP-1559 clients compute fees; never charged
PRIORITY_FEE_WEI = 0  # validators take no tip


def quantity(value: int) -> str:
    """An integer as a JSON-RPC quantity."""
    return hex(value)


def data(value: bytes) -> str:
    """Bytes as JSON-RPC data."""
    return "0x" + value.hex()


def bloom_of(logs: Sequence[Log]) -> bytes:
    """The 2048-bit log bloom of some logs (addresses and topics, three bits each)."""
    bloom = bytearray(BLOOM_BYTES)
    for log in logs:
        for item in (log.address, *log.topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bit = ((digest[i] << 8) | digest[i + 1]) & 2047
                bloom[BLOOM_BYTES - 1 - bit // 8] |= 1 << (bit % 8)
    return bytes(bloom)


@lru_cache(maxsize=1_024)
def miner_of(preset: Preset, proposer: str) -> str:
    """The operator account of the proposing node (the zero address for genesis)."""
    try:
        preset.node(proposer)
    except KeyError:
        return ZERO_ADDRESS
    return address_text(preset.key(node_operator_label(proposer)).address)


def block_json(block: Block, receipts: Sequence[Receipt], preset: Preset,
               transactions: list[Any]) -> dict[str, Any]:
    """A block in Ethereum shape; `transactions` are hashes or transaction objects."""
    header = block.header
    extra = header.proposer.encode("utf-8")[:MAX_EXTRA_DATA_BYTES]
    return {
        "number": quantity(header.height),
        "hash": data(block.hash),
        "parentHash": data(header.parent_hash),
        "nonce": "0x0000000000000000",
        "sha3Uncles": EMPTY_UNCLES_HASH,
        "logsBloom": data(bloom_of([log for receipt in receipts for log in receipt.logs])),
        "transactionsRoot": data(header.transactions_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipts_root),
        "miner": miner_of(preset, header.proposer),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": data(extra),
        "size": quantity(len(encode_block(block))),
        "gasLimit": quantity(BLOCK_GAS_LIMIT),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp_ms // 1000),
        "transactions": transactions,
        "uncles": [],
        "baseFeePerGas": quantity(NOMINAL_BASE_FEE_WEI),
        "mixHash": ZERO_HASH,
        "withdrawals": [],
        "withdrawalsRoot": data(BLANK_ROOT_HASH),
    }


def transaction_json(transaction: Transaction, sender: Address, block: Block | None,
                     index: int | None) -> dict[str, Any]:
    """A transaction object; block fields are null while it is pending."""
    document: dict[str, Any] = {
        "blockHash": data(block.hash) if block else None,
        "blockNumber": quantity(block.height) if block else None,
        "transactionIndex": quantity(index) if index is not None else None,
        "hash": data(transaction.hash),
        "from": address_text(sender),
        "to": address_text(transaction.to) if transaction.to else None,
        "nonce": quantity(transaction.nonce),
        "gas": quantity(transaction.gas),
        "gasPrice": quantity(transaction.gas_price),
        "input": data(transaction.data),
        "value": quantity(transaction.value),
        "type": quantity(transaction.type),
        "chainId": quantity(transaction.chain_id),
        "r": quantity(transaction.r),
        "s": quantity(transaction.s),
    }
    if transaction.type == DYNAMIC_FEE_TYPE:
        document.update({
            "maxFeePerGas": quantity(transaction.max_fee_per_gas),
            "maxPriorityFeePerGas": quantity(transaction.max_priority_fee_per_gas),
            "accessList": [{"address": address_text(address),
                            "storageKeys": [data(key) for key in keys]}
                           for address, keys in transaction.access_list],
            "yParity": quantity(transaction.y_parity),
            "v": quantity(transaction.y_parity),
        })
    else:
        document["v"] = quantity(transaction.chain_id * 2 + 35 + transaction.y_parity)
    return document


def log_json(log: Log, block: Block, transaction_hash: bytes, transaction_index: int,
             log_index: int) -> dict[str, Any]:
    """A log with its position in the chain."""
    return {
        "address": address_text(log.address),
        "topics": [data(topic) for topic in log.topics],
        "data": data(log.data),
        "blockNumber": quantity(block.height),
        "blockHash": data(block.hash),
        "transactionHash": data(transaction_hash),
        "transactionIndex": quantity(transaction_index),
        "logIndex": quantity(log_index),
        "removed": False,
    }


def receipt_json(receipt: Receipt, transaction: Transaction, sender: Address, block: Block,
                 index: int, first_log_index: int) -> dict[str, Any]:
    """A transaction receipt as the execution-apis specify it (no fields of our own).

    `first_log_index` counts the logs of earlier transactions in the block; a creation names
    the contract it created. `effectiveGasPrice` is 0: nothing is charged (ADR 0001).
    """
    created = (address_text(contract_address(sender, transaction.nonce))
               if not transaction.to and receipt.status == 1 else None)
    return {
        "transactionHash": data(receipt.transaction_hash),
        "transactionIndex": quantity(index),
        "blockHash": data(block.hash),
        "blockNumber": quantity(block.height),
        "from": address_text(sender),
        "to": address_text(transaction.to) if transaction.to else None,
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "gasUsed": quantity(receipt.gas_used),
        "effectiveGasPrice": "0x0",
        "contractAddress": created,
        "logs": [log_json(log, block, receipt.transaction_hash, index, first_log_index + i)
                 for i, log in enumerate(receipt.logs)],
        "logsBloom": data(bloom_of(receipt.logs)),
        "status": quantity(receipt.status),
        "type": quantity(transaction.type),
    }
