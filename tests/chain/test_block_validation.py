"""Block validation: an invalid block is refused with InvalidBlock and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from chain.blocks import Block, transactions_root
from chain.chain_time import DRIFT_MS_AHEAD, DRIFT_MS_BEHIND
from chain.crypto import derive_private_key
from chain.errors import InvalidBlock
from chain.genesis import Genesis
from chain.ledger import Ledger, replay
from tests.chain.ledger_helpers import (
    fresh_ledger,
    next_block,
    publication,
    store_snapshot,
)

OUTSIDER = derive_private_key(b"not a member")


@pytest.fixture
def proposed(genesis: Genesis) -> tuple[Ledger, Block]:
    """A proposer's ledger with block 1 (three publishes) built but not appended."""
    proposer = fresh_ledger(genesis)
    for index, label in enumerate(("bureau:shanghai", "bureau:nanjing", "bureau:shanghai")):
        key = genesis.preset.key(label)
        proposer.admit(publication(genesis, key, proposer.pending_nonce(key.address),
                                   enterprise_index=index).raw)
    return proposer, proposer.build_block(genesis.preset.genesis_timestamp_ms + 1000,
                                          "shanghai-1")


def with_transactions(block: Block, transactions: tuple[bytes, ...]) -> Block:
    """The block carrying other transactions, its transactions root updated to match."""
    header = replace(block.header, transactions_root=transactions_root(transactions))
    return Block(header, transactions)


def outsider_transaction(genesis: Genesis) -> bytes:
    return publication(genesis, OUTSIDER, 0).raw


TAMPERINGS: dict[str, tuple[Callable[[Block, Genesis], Block], str]] = {
    "state root": (lambda b, g: Block(replace(b.header, state_root=b"\1" * 32), b.transactions),
                   "state root"),
    "receipts root": (lambda b, g: Block(replace(b.header, receipts_root=b"\1" * 32),
                                         b.transactions), "receipts root"),
    "gas used": (lambda b, g: Block(replace(b.header, gas_used=b.header.gas_used + 1),
                                    b.transactions), "gas used"),
    "parent": (lambda b, g: Block(replace(b.header, parent_hash=b"\2" * 32), b.transactions),
               "is not the head"),
    "height": (lambda b, g: Block(replace(b.header, height=2), b.transactions),
               "block height 2, expected 1"),
    "timestamp": (lambda b, g: Block(replace(b.header, timestamp_ms=0), b.transactions),
                  "not later than its parent"),
    "timestamp equal to the parent's": (
        lambda b, g: Block(replace(b.header, timestamp_ms=g.preset.genesis_timestamp_ms),
                           b.transactions), "not later than its parent"),
    "transactions root": (lambda b, g: Block(replace(b.header, transactions_root=b"\3" * 32),
                                             b.transactions), "transactions root"),
    "body swapped": (lambda b, g: Block(b.header, b.transactions[:2]), "transactions root"),
    "non-member injected": (
        lambda b, g: with_transactions(b, (*b.transactions, outsider_transaction(g))),
        "not an admitted institution"),
    "transaction repeated": (
        lambda b, g: with_transactions(b, (*b.transactions, b.transactions[0])),
        "nonce 0 was already used"),
    "nonce gap": (lambda b, g: with_transactions(b, b.transactions[1:]),
                  "nonce 1 leaves a gap"),
    "undecodable transaction": (
        lambda b, g: with_transactions(b, (*b.transactions, b"\xc0")), "inadmissible"),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampered_block_is_refused_and_changes_nothing(
        tampering: str, proposed: tuple[Ledger, Block], genesis: Genesis) -> None:
    _, block = proposed
    tamper, reason = TAMPERINGS[tampering]
    bad = tamper(block, genesis)
    validator = fresh_ledger(genesis)
    before = store_snapshot(validator)
    with pytest.raises(InvalidBlock, match=reason) as caught:
        validator.append_block(bad)
    assert caught.value.http_status == 422
    assert store_snapshot(validator) == before
    with pytest.raises(InvalidBlock):
        validator.validate_block(bad)
    validator.append_block(block)  # the genuine block is still accepted afterwards
    assert validator.head.block_hash == block.hash


def test_the_proposer_refuses_a_tampered_copy_of_its_own_block(
        proposed: tuple[Ledger, Block]) -> None:
    proposer, block = proposed
    before = store_snapshot(proposer)
    with pytest.raises(InvalidBlock, match="state root"):
        proposer.append_block(Block(replace(block.header, state_root=b"\1" * 32),
                                    block.transactions))
    assert store_snapshot(proposer) == before


def test_a_validated_header_with_another_body_is_refused(
        proposed: tuple[Ledger, Block], genesis: Genesis) -> None:
    """The execution kept for a header must not vouch for a different body under it."""
    proposer, block = proposed
    swapped = Block(block.header, block.transactions[:2])
    assert swapped.hash == block.hash  # the hash covers the header only
    validator = fresh_ledger(genesis)
    validator.validate_block(block)
    for ledger in (validator, proposer):
        before = store_snapshot(ledger)
        with pytest.raises(InvalidBlock, match="transactions root"):
            ledger.append_block(swapped)
        assert store_snapshot(ledger) == before


def test_a_committed_block_cannot_be_appended_twice(proposed: tuple[Ledger, Block],
                                                    genesis: Genesis) -> None:
    _, block = proposed
    validator = fresh_ledger(genesis)
    validator.append_block(block)
    before = store_snapshot(validator)
    with pytest.raises(InvalidBlock, match="block height 1, expected 2"):
        validator.append_block(block)
    assert store_snapshot(validator) == before


def test_replay_reaches_the_same_head_and_index(proposed: tuple[Ledger, Block],
                                                genesis: Genesis) -> None:
    proposer, block = proposed
    proposer.append_block(block)
    key = genesis.preset.key("bureau:nanjing")
    proposer.admit(publication(genesis, key, 1, enterprise_index=4).raw)
    next_block(proposer, "nanjing-1")
    follower = fresh_ledger(genesis)
    replay(follower, (proposer.block(h) for h in (1, 2)))
    assert follower.head == proposer.head
    assert follower.receipts(2) == proposer.receipts(2)
    for enterprise in genesis.preset.enterprises:
        code = enterprise.credit_code.code
        assert follower.records_of(code) == proposer.records_of(code)
    assert follower.block_by_hash(proposer.head.block_hash) == proposer.block(2)


def test_reopening_a_store_resumes_at_its_head(proposed: tuple[Ledger, Block],
                                               genesis: Genesis) -> None:
    proposer, block = proposed
    proposer.append_block(block)
    reopened = Ledger(proposer.store, genesis)
    assert reopened.head == proposer.head
    assert reopened.members == proposer.members
    key = genesis.preset.key("bureau:shanghai")
    assert reopened.next_nonce(key.address) == 2


def test_a_vote_refuses_a_timestamp_off_its_clock_but_a_certified_block_is_imported(
        proposed: tuple[Ledger, Block], genesis: Genesis) -> None:
    """chain.chain_time: drift is checked when voting on a proposal, never on import."""
    _, block = proposed
    timestamp = block.header.timestamp_ms
    validator = fresh_ledger(genesis)
    before = store_snapshot(validator)
    for clock_ms in (timestamp - DRIFT_MS_AHEAD - 1, timestamp + DRIFT_MS_BEHIND + 1,
                     timestamp - 86_400_000):
        with pytest.raises(InvalidBlock, match="validator's clock"):
            validator.validate_proposal(block, clock_ms)
    assert store_snapshot(validator) == before
    validator.validate_proposal(block, timestamp)
    importer = fresh_ledger(genesis)
    importer.append_block(block)  # a synced, certified block: no clock involved
    assert importer.head.block_hash == block.hash
