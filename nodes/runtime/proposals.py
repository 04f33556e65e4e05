"""How many transactions a proposal takes: sized by measured build time on this machine.

A proposal must execute well within a round on every validator; the proposer aims to build one
in about BUILD_BUDGET_MS and adjusts the limit after each build (halfway to the new target).
"""

from __future__ import annotations

from dataclasses import dataclass

BUILD_BUDGET_MS = 400  # a proposal must execute well within a round on every validator
PROPOSAL_TRANSACTIONS_MIN = 10
PROPOSAL_TRANSACTIONS_MAX = 1_000  # chain.blocks.MAX_BLOCK_TRANSACTIONS


@dataclass
class ProposalSizer:
    """The current limit and its adjustment."""

    limit: int = PROPOSAL_TRANSACTIONS_MAX // 4

    def adapt(self, transactions: int, seconds: float) -> None:
        """After building `transactions` in `seconds`: move the limit toward the budget."""
        if transactions < PROPOSAL_TRANSACTIONS_MIN:
            return
        per_transaction_ms = seconds * 1000 / transactions
        target = int(BUILD_BUDGET_MS / max(per_transaction_ms, 1e-3))
        smoothed = (self.limit + target) // 2
        self.limit = max(PROPOSAL_TRANSACTIONS_MIN, min(PROPOSAL_TRANSACTIONS_MAX, smoothed))
