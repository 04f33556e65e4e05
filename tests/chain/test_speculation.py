"""Blocks executed ahead of their proposal (`chain.speculation`): reused only when they are it."""

from __future__ import annotations

from chain.genesis import Genesis
from chain.ledger import Ledger
from tests.chain.ledger_helpers import fresh_ledger, grant_call, publication

PUBLISHER = "bureau:shanghai"
OTHER_PUBLISHER = "bureau:nanjing"
QUERIER = "bank:shanghai"
INTERVAL_MS = 1_000


def _pending(genesis: Genesis) -> list[bytes]:
    """Two bureaus' publishes and an enterprise's grant (which reads the block's time)."""
    preset = genesis.preset
    raws = [publication(genesis, preset.key(label), nonce, enterprise_index=index).raw
            for index, label in enumerate((PUBLISHER, OTHER_PUBLISHER)) for nonce in range(2)]
    enterprise = preset.key(preset.enterprises[0].label)
    return [*raws, grant_call(genesis, enterprise, preset.key(QUERIER), 0, 0)]


def _ledger_holding(genesis: Genesis, raws: list[bytes]) -> Ledger:
    ledger = fresh_ledger(genesis)
    for raw in raws:
        ledger.admit(raw)
    return ledger


def test_a_validator_that_executed_ahead_reuses_it_for_the_proposal(genesis: Genesis) -> None:
    raws = _pending(genesis)
    proposer, validator, plain = (_ledger_holding(genesis, raws) for _ in range(3))
    at_ms = proposer.head.timestamp_ms + INTERVAL_MS
    assert validator.speculate(at_ms + 5) == len(raws)  # same second as the proposal
    assert proposer.speculate(at_ms) == len(raws)
    block = proposer.build_block(at_ms, "shanghai-1")
    assert proposer.speculations == {"executed": 1, "reused": 1}
    result = validator.validate_block(block)
    assert validator.speculations == {"executed": 1, "reused": 1}
    assert result == plain.validate_block(block)  # the same result a fresh execution gives
    assert plain.speculations == {"executed": 0, "reused": 0}
    committed = validator.append_block(block)
    assert [receipt.status for receipt in committed.receipts] == [1] * len(raws)
    assert validator.head.state_root == block.header.state_root


def test_another_second_another_order_or_another_head_executes_afresh(
        genesis: Genesis) -> None:
    raws = _pending(genesis)
    proposer = _ledger_holding(genesis, raws)
    at_ms = proposer.head.timestamp_ms + INTERVAL_MS
    block = proposer.build_block(at_ms, "shanghai-1")

    late = _ledger_holding(genesis, raws)
    late.speculate(at_ms + INTERVAL_MS)  # the grant would see another block.timestamp
    reordered = _ledger_holding(genesis, raws[2:4] + raws[:2] + raws[4:])
    assert reordered.speculate(at_ms) == len(raws)  # the same ones, the other bureau first
    for ledger in (late, reordered):
        result = ledger.validate_block(block)
        assert ledger.speculations == {"executed": 1, "reused": 0}
        assert result.state_root == block.header.state_root

    moved = _ledger_holding(genesis, raws)
    moved.speculate(at_ms)
    moved.append_block(block)  # its head moved on: what it executed ahead is gone
    assert moved._speculation is None
    assert moved.speculate(at_ms + INTERVAL_MS) == 0  # nothing left pending


def test_nothing_is_executed_ahead_once_a_block_of_the_height_is_here(genesis: Genesis) -> None:
    ledger = _ledger_holding(genesis, _pending(genesis))
    ledger.build_block(ledger.head.timestamp_ms + INTERVAL_MS, "shanghai-1")
    assert ledger.speculate(ledger.head.timestamp_ms + INTERVAL_MS) == 0
    assert fresh_ledger(genesis).speculate(INTERVAL_MS) == 0  # an empty mempool
