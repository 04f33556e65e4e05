"""Admission into the mempool: each refusal names its cause and changes nothing."""

from __future__ import annotations

import pytest

from chain.crypto import derive_private_key
from chain.errors import (
    DuplicateTransaction,
    MemberSuspended,
    MissingRole,
    NonceGap,
    NonceTooLow,
    NotAMember,
    UnsupportedTransaction,
    YrdError,
)
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.mempool import GAPPED_EXPIRY_MS, MAX_NONCE_AHEAD
from chain.wallet import sign_legacy
from contracts import bindings
from tests.chain.ledger_helpers import fresh_ledger, next_block, publication, signed_call

OUTSIDER = derive_private_key(b"an institution the regulator never admitted")


def assert_refused_without_change(ledger: Ledger, raw: bytes, error: type[YrdError],
                                  match: str) -> YrdError:
    before = (ledger.head, len(ledger.mempool), ledger.store.load_head(), dict(ledger.members))
    with pytest.raises(error, match=match) as caught:
        ledger.admit(raw)
    after = (ledger.head, len(ledger.mempool), ledger.store.load_head(), dict(ledger.members))
    assert after == before
    assert caught.value.http_status >= 400
    return caught.value


def test_publish_from_a_publisher_commits_and_is_indexed(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    item = publication(genesis, bureau, 0)
    admitted = ledger.admit(item.raw)
    assert admitted.sender == bureau.address
    assert item.raw and admitted.hash in ledger.mempool
    assert ledger.pending_nonce(bureau.address) == 1 and ledger.next_nonce(bureau.address) == 0
    committed = next_block(ledger)
    assert [r.status for r in committed.receipts] == [1]
    assert ledger.head.height == 1 and len(ledger.mempool) == 0
    assert ledger.next_nonce(bureau.address) == 1
    enterprise = genesis.preset.enterprises[0].credit_code.code
    [entry] = ledger.records_of(enterprise)
    assert (entry.record_id, entry.publisher, entry.payload_hash) == (
        item.record_id, bureau.address, item.payload_hash)
    assert (entry.version, entry.status, entry.height, entry.origin_city) == (
        1, int(bindings.RecordStatus.ACTIVE), 1, 1)
    assert ledger.transaction_location(admitted.hash) == (1, 0)
    located = ledger.receipt(admitted.hash)
    assert located is not None and located[2].status == 1
    assert ledger.records_of(genesis.preset.enterprises[1].credit_code.code) == []
    view = ledger.call(genesis.contracts.registry, bindings.encode_record(item.record_id))
    assert bindings.decode_record(view.output).payload_hash == item.payload_hash


def test_non_member_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    raw = publication(genesis, OUTSIDER, 0).raw
    error = assert_refused_without_change(ledger, raw, NotAMember, "not an admitted institution")
    assert error.field == "from" and OUTSIDER.address.hex() in error.message


def test_querier_may_not_publish(ledger: Ledger, genesis: Genesis) -> None:
    raw = publication(genesis, genesis.preset.key("bank:hangzhou"), 0).raw
    assert_refused_without_change(
        ledger, raw, MissingRole, "publish needs the publisher role; Hangzhou Commercial Bank "
        "holds querier")


def test_suspended_publisher_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    regulator = genesis.preset.key("regulator")
    bureau = genesis.preset.key("bureau:nanjing")
    ledger.admit(publication(genesis, bureau, 0).raw)
    next_block(ledger)
    ledger.admit(signed_call(genesis, regulator, ledger.pending_nonce(regulator.address),
                             "Consortium", bindings.encode_suspend(bureau.address)))
    assert [r.status for r in next_block(ledger).receipts] == [1]
    assert ledger.members[bureau.address].status == int(bindings.InstitutionStatus.SUSPENDED)
    raw = publication(genesis, bureau, 1, salt=1).raw
    assert_refused_without_change(ledger, raw, MemberSuspended, "Nanjing Credit Bureau .* is "
                                  "suspended")
    ledger.admit(signed_call(genesis, regulator, ledger.pending_nonce(regulator.address),
                             "Consortium", bindings.encode_reinstate(bureau.address)))
    next_block(ledger)
    ledger.admit(raw)
    assert [r.status for r in next_block(ledger).receipts] == [1]


def test_suspension_drops_pending_transactions_from_blocks(ledger: Ledger,
                                                           genesis: Genesis) -> None:
    regulator = genesis.preset.key("regulator")
    bureau = genesis.preset.key("bureau:hefei")
    ledger.admit(signed_call(genesis, regulator, ledger.pending_nonce(regulator.address),
                             "Consortium", bindings.encode_suspend(bureau.address)))
    next_block(ledger)
    assert ledger.members[bureau.address].status == int(bindings.InstitutionStatus.SUSPENDED)
    with pytest.raises(MemberSuspended):
        ledger.admit(publication(genesis, bureau, 0).raw)
    block = ledger.build_block(ledger.head.timestamp_ms + 1000, "hefei-1")
    assert block.transactions == ()


def test_replayed_nonce_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    first = publication(genesis, bureau, 0)
    ledger.admit(first.raw)
    next_block(ledger)
    assert_refused_without_change(ledger, first.raw, NonceTooLow, "nonce 0 was already used")
    other = publication(genesis, bureau, 0, salt=7).raw
    error = assert_refused_without_change(ledger, other, NonceTooLow, "next nonce .* is 1")
    assert error.field == "nonce" and error.http_status == 409


def test_nonce_gap_beyond_the_allowance_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    too_far = publication(genesis, bureau, MAX_NONCE_AHEAD + 1).raw
    assert_refused_without_change(ledger, too_far, NonceGap,
                                  f"nonce {MAX_NONCE_AHEAD + 1} leaves a gap; expected 0")
    ledger.admit(publication(genesis, bureau, MAX_NONCE_AHEAD).raw)
    assert ledger.pending_nonce(bureau.address) == 0
    assert ledger.build_block(ledger.head.timestamp_ms + 1000, "shanghai-1").transactions == ()


def test_duplicate_transaction_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    raw = publication(genesis, bureau, 0).raw
    ledger.admit(raw)
    recoveries = ledger.senders.recoveries
    error = assert_refused_without_change(ledger, raw, DuplicateTransaction, "already pending")
    assert error.field == "raw"
    assert ledger.senders.recoveries == recoveries
    same_nonce = publication(genesis, bureau, 0, salt=3).raw
    error = assert_refused_without_change(ledger, same_nonce, DuplicateTransaction,
                                          "nonce 0 .* already pending")
    assert error.field == "nonce"


def test_calls_outside_the_contracts_are_refused(ledger: Ledger, genesis: Genesis) -> None:
    regulator = genesis.preset.key("regulator")
    nonce = ledger.pending_nonce(regulator.address)
    elsewhere = sign_legacy(regulator, genesis.chain_id, nonce, b"\x42" * 20,
                            bindings.encode_suspend(b"\1" * 20))
    assert_refused_without_change(ledger, elsewhere, UnsupportedTransaction, "none of them")
    wrong_contract = signed_call(genesis, regulator, nonce, "Authorization",
                                 bindings.encode_suspend(b"\1" * 20))
    assert_refused_without_change(ledger, wrong_contract, UnsupportedTransaction,
                                  "Authorization has no state-changing function suspend")
    view = signed_call(genesis, regulator, nonce, "Consortium", bindings.encode_regulator())
    assert_refused_without_change(ledger, view, UnsupportedTransaction, "no state-changing")
    unknown = signed_call(genesis, regulator, nonce, "Consortium", b"\xde\xad\xbe\xef")
    assert_refused_without_change(ledger, unknown, UnsupportedTransaction, "selector")


def test_pending_nonces_count_contiguous_transactions(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    for nonce in (0, 1, 3):
        ledger.admit(publication(genesis, bureau, nonce).raw)
    assert ledger.pending_nonce(bureau.address) == 2
    committed = next_block(ledger)
    assert [a.nonce for a in committed.admitted] == [0, 1]
    assert len(ledger.mempool) == 1 and ledger.pending_nonce(bureau.address) == 2
    ledger.admit(publication(genesis, bureau, 2).raw)
    assert [a.nonce for a in next_block(ledger).admitted] == [2, 3]


def test_a_block_of_pending_transactions_is_neither_decoded_nor_recovered_again(
        genesis: Genesis, monkeypatch: pytest.MonkeyPatch) -> None:
    proposer, validator = fresh_ledger(genesis), fresh_ledger(genesis)
    bureau = genesis.preset.key("bureau:shanghai")
    raws = [publication(genesis, bureau, nonce, nonce % 3).raw for nonce in range(3)]
    for raw in raws:
        proposer.admit(raw)
        validator.admit(raw)
    block = proposer.build_block(genesis.preset.genesis_timestamp_ms + 1_000, "shanghai-1")
    recoveries = validator.senders.recoveries
    decodes: list[bytes] = []
    original = validator.decode
    monkeypatch.setattr(validator, "decode", lambda raw: decodes.append(raw) or original(raw))
    validator.append_block(block)
    assert decodes == [] and validator.senders.recoveries == recoveries
    proposer.append_block(block)
    assert validator.head == proposer.head
    stranger = fresh_ledger(genesis)
    decode_fresh = stranger.decode
    monkeypatch.setattr(stranger, "decode",
                        lambda raw: decodes.append(raw) or decode_fresh(raw))
    stranger.append_block(block)
    assert decodes == raws


def test_gapped_transactions_ask_for_no_block_and_expire_in_chain_time(
        ledger: Ledger, genesis: Genesis) -> None:
    key = genesis.preset.key("bureau:shanghai")
    ledger.admit(publication(genesis, key, 3).raw)
    assert len(ledger.mempool) == 1
    assert ledger.ready_transactions() == 0  # no work: the heartbeat alone makes blocks
    assert next_block(ledger).block.transactions == ()
    next_block(ledger, interval_ms=GAPPED_EXPIRY_MS + 1)  # a heartbeat a minute later
    assert len(ledger.mempool) == 0
    ledger.admit(publication(genesis, key, 0).raw)
    assert ledger.ready_transactions() == 1
    ledger.admit(publication(genesis, key, 1).raw)
    assert ledger.ready_transactions() == 2  # counted again: the mempool changed
    next_block(ledger)
    assert ledger.ready_transactions() == 0  # and again: the block used both nonces
