"""Logs in Ethereum shape over a range of committed blocks, bounded in blocks and results.

`eth_getLogs`, `eth_getFilterLogs`, `eth_getFilterChanges` of a log filter and the `logs`
subscription all read logs here, so they agree on positions (`logIndex` counts the block's logs
in order) and on the limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chain.blocks import Block
from chain.execution import Receipt
from chain.ledger import Ledger
from nodes.api.eth_shapes import log_json
from nodes.api.rpc_params import LogCriteria, RpcError

MAX_LOG_BLOCK_RANGE = 10_000  # blocks one query may scan
MAX_LOG_RESULTS = 10_000  # logs one answer may hold
LIMIT_EXCEEDED = -32005  # the code clients read as "narrow your query"


def logs_of_block(block: Block, receipts: Sequence[Receipt],
                  criteria: LogCriteria) -> list[dict[str, Any]]:
    """The wanted logs of one block, in order."""
    found: list[dict[str, Any]] = []
    log_index = 0
    for index, receipt in enumerate(receipts):
        for log in receipt.logs:
            if criteria.matches(log.address, log.topics):
                found.append(log_json(log, block, receipt.transaction_hash, index, log_index))
            log_index += 1
    return found


def collect_logs(ledger: Ledger, first: int, last: int,
                 criteria: LogCriteria) -> list[dict[str, Any]]:
    """The wanted logs of blocks `first`..`last` (inclusive); -32005 past the limits."""
    if last - first >= MAX_LOG_BLOCK_RANGE:
        raise RpcError(LIMIT_EXCEEDED, f"query spans {last - first + 1} blocks; at most "
                       f"{MAX_LOG_BLOCK_RANGE} per request")
    found: list[dict[str, Any]] = []
    for height in range(max(first, 1), last + 1):
        receipts = ledger.receipts(height)
        if not any(criteria.matches(log.address, log.topics)
                   for receipt in receipts for log in receipt.logs):
            continue  # the block is loaded only when one of its logs is wanted
        found.extend(logs_of_block(ledger.block(height), receipts, criteria))
        if len(found) > MAX_LOG_RESULTS:
            raise RpcError(LIMIT_EXCEEDED, f"more than {MAX_LOG_RESULTS} logs; narrow the "
                           "block range")
    return found
