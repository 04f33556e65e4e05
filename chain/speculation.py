"""A block executed ahead of its proposal, so that a validator's work overlaps the proposer's.

A validator that holds the same pending transactions as the round's proposer can execute the
block the proposer is about to build before the proposal arrives: the proposer's selection is
deterministic (`Ledger.build_block` takes the mempool's next transactions in the same order on
every node that holds them), and a block's execution depends only on its parent state, its
height, its timestamp in whole seconds (`block.timestamp`, as contracts see it; the coinbase is
always zero) and its transactions. So a result computed for the same four is the result of the
proposal, whoever proposes it; a proposal that differs in any of them is executed as usual.

Nothing here trusts the speculation: the header's state root, receipts root and gas are compared
with the reused result exactly as with a fresh execution (`Ledger.validate_block`), and the
proposer's own build reuses it only when it chose the very same transactions.

The importer (`nodes.dataset.offline_import`) uses it so that the four nodes execute a block at
the same time on the machine's cores, instead of the proposer alone and then the three others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.execution import ExecutionResult
from chain.transactions import AdmittedTransaction

SpeculationKey = tuple[bytes, int, int, tuple[bytes, ...]]


def speculation_key(parent_hash: bytes, height: int, timestamp_ms: int,
                    transactions: Sequence[AdmittedTransaction]) -> SpeculationKey:
    """What a block's execution depends on: parent, height, timestamp in seconds, transactions."""
    return (parent_hash, height, timestamp_ms // 1000, tuple(a.hash for a in transactions))


@dataclass(frozen=True, slots=True)
class Speculation:
    """A block executed ahead: its key, the result and its encoded receipts."""

    key: SpeculationKey
    result: ExecutionResult
    receipts: tuple[bytes, ...]
