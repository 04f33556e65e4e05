"""Gas limits for members' contracts, sized to py-evm's speed on the consensus round's budget.

py-evm interprets cheap opcodes at roughly 5 million gas a second on the reference machine (a
2-core AMD EPYC), and a block must execute within the round's build budget on every validator
(about 2 s before the first timeout). So a block holds at most `MEMBER_BLOCK_GAS_LIMIT` of
declared gas for members' contracts (≈ 2 s of the worst code), one transaction at most
`MEMBER_TRANSACTION_GAS_LIMIT` (≈ 0.6 s), and an `eth_call` to a member's contract at most
`MEMBER_CALL_GAS_LIMIT` (≈ 1 s of one node's CPU). The system contracts run natively and are not
counted against these budgets: their gas follows `chain.engine.gas`.
"""

from __future__ import annotations

MEMBER_TRANSACTION_GAS_LIMIT = 3_000_000
"""Most gas one deployment or call to a member's contract may declare."""
MEMBER_BLOCK_GAS_LIMIT = 10_000_000
"""Most gas the members'-contract transactions of one block may declare together."""
MEMBER_CALL_GAS_LIMIT = 5_000_000
"""Gas of an eth_call (or estimate) to a member's contract."""
