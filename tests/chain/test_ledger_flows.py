"""Record life cycles through the ledger: correct, revoke, disputes with a deadline, grants.

Refusals by a contract inside a block show as a receipt with status 0 and a revert reason (the
nonce is still used); refusals at admission raise a YrdError before the mempool.
"""

from __future__ import annotations

import pytest

from chain.crypto import PrivateKey, keccak
from chain.errors import BadSignature, MalformedInput
from chain.execution import Receipt
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.records import RecordKind, scope_of
from chain.wallet import sign_digest
from contracts import bindings
from tests.chain.ledger_helpers import (
    grant_call,
    is_authorized,
    next_block,
    publication,
    signed_call,
)

ACTIVE = int(bindings.RecordStatus.ACTIVE)
CORRECTED = int(bindings.RecordStatus.CORRECTED)
REVOKED = int(bindings.RecordStatus.REVOKED)


def submit(ledger: Ledger, key: PrivateKey, contract: str, data: bytes) -> None:
    ledger.admit(signed_call(ledger.genesis, key, ledger.pending_nonce(key.address), contract,
                             data))


def commit_one(ledger: Ledger, key: PrivateKey, contract: str, data: bytes) -> Receipt:
    """Submit one call, commit it in a block, return its receipt."""
    submit(ledger, key, contract, data)
    [receipt] = next_block(ledger).receipts
    return receipt


def publish(ledger: Ledger, key: PrivateKey, enterprise_index: int = 0, salt: int = 0) -> bytes:
    item = publication(ledger.genesis, key, ledger.pending_nonce(key.address), enterprise_index,
                       salt=salt)
    ledger.admit(item.raw)
    assert [r.status for r in next_block(ledger).receipts] == [1]
    return item.record_id


def record_view(ledger: Ledger, record_id: bytes) -> bindings.RecordView:
    result = ledger.call(ledger.genesis.contracts.registry, bindings.encode_record(record_id))
    return bindings.decode_record(result.output)


def dispute_view(ledger: Ledger, dispute_id: bytes) -> bindings.DisputeView:
    result = ledger.call(ledger.genesis.contracts.registry, bindings.encode_dispute(dispute_id))
    return bindings.decode_dispute(result.output)


@pytest.fixture
def bureau(genesis: Genesis) -> PrivateKey:
    return genesis.preset.key("bureau:shanghai")


@pytest.fixture
def bank(genesis: Genesis) -> PrivateKey:
    return genesis.preset.key("bank:hangzhou")


@pytest.fixture
def regulator(genesis: Genesis) -> PrivateKey:
    return genesis.preset.key("regulator")


def test_correction_links_versions(ledger: Ledger, bureau: PrivateKey) -> None:
    first = publish(ledger, bureau)
    second = keccak(b"version 2")
    receipt = commit_one(ledger, bureau, "CreditRegistry",
                         bindings.encode_correct(first, second, keccak(b"payload 2")))
    assert receipt.status == 1
    versions = ledger.record_versions(first)
    assert [v.record_id for v in versions] == [first, second]
    old, new = versions
    assert (old.version, old.status, old.next, old.previous) == (1, CORRECTED, second, b"")
    assert (new.version, new.status, new.next, new.previous) == (2, ACTIVE, b"", first)
    assert new.payload_hash == keccak(b"payload 2") and new.height == old.height + 1
    assert ledger.record_versions(second) == versions
    enterprise = old.enterprise
    assert [e.record_id for e in ledger.records_of(enterprise)] == [first, second]
    assert record_view(ledger, first).next == second
    assert record_view(ledger, second).previous == first


def test_correcting_a_corrected_or_foreign_record_reverts(ledger: Ledger, bureau: PrivateKey,
                                                          genesis: Genesis) -> None:
    first = publish(ledger, bureau)
    commit_one(ledger, bureau, "CreditRegistry",
               bindings.encode_correct(first, keccak(b"v2"), keccak(b"p2")))
    again = commit_one(ledger, bureau, "CreditRegistry",
                       bindings.encode_correct(first, keccak(b"v3"), keccak(b"p3")))
    assert (again.status, again.revert_reason) == (0, "record not active")
    other = genesis.preset.key("bureau:nanjing")
    foreign = commit_one(ledger, other, "CreditRegistry",
                         bindings.encode_correct(keccak(b"v2"), keccak(b"v4"), keccak(b"p4")))
    assert (foreign.status, foreign.revert_reason) == (0, "not the publisher")
    assert ledger.next_nonce(other.address) == 1  # a reverted call still uses its nonce
    assert [v.status for v in ledger.record_versions(first)] == [CORRECTED, ACTIVE]


def test_revoke(ledger: Ledger, bureau: PrivateKey) -> None:
    record_id = publish(ledger, bureau)
    assert commit_one(ledger, bureau, "CreditRegistry",
                      bindings.encode_revoke(record_id, 3)).status == 1
    assert ledger.record(record_id).status == REVOKED
    assert record_view(ledger, record_id).status == bindings.RecordStatus.REVOKED
    twice = commit_one(ledger, bureau, "CreditRegistry", bindings.encode_revoke(record_id, 3))
    assert (twice.status, twice.revert_reason) == (0, "record not active")


def test_dispute_answered_then_upheld_revokes_the_record(
        ledger: Ledger, bureau: PrivateKey, bank: PrivateKey, regulator: PrivateKey) -> None:
    record_id = publish(ledger, bureau)
    dispute_id = keccak(b"dispute 1")
    assert commit_one(ledger, bank, "CreditRegistry", bindings.encode_open_dispute(
        dispute_id, record_id, keccak(b"reason"))).status == 1
    opened = dispute_view(ledger, dispute_id)
    assert opened.status == bindings.DisputeStatus.OPEN and opened.opener == bank.address
    assert opened.deadline == opened.opened_at + ledger.genesis.preset.dispute_window_blocks
    assert commit_one(ledger, bureau, "CreditRegistry", bindings.encode_respond(
        dispute_id, keccak(b"answer"))).status == 1
    assert dispute_view(ledger, dispute_id).response_hash == keccak(b"answer")
    assert commit_one(ledger, regulator, "CreditRegistry",
                      bindings.encode_resolve(dispute_id, True)).status == 1
    assert dispute_view(ledger, dispute_id).status == bindings.DisputeStatus.UPHELD
    assert ledger.record(record_id).status == REVOKED
    closed = commit_one(ledger, regulator, "CreditRegistry",
                        bindings.encode_resolve(dispute_id, False))
    assert (closed.status, closed.revert_reason) == (0, "dispute closed")


def test_dispute_deadline(ledger: Ledger, bureau: PrivateKey, bank: PrivateKey,
                          regulator: PrivateKey, genesis: Genesis) -> None:
    record_id = publish(ledger, bureau)
    late, in_time = keccak(b"late"), keccak(b"in time")
    for dispute_id in (late, in_time):
        submit(ledger, bank, "CreditRegistry",
               bindings.encode_open_dispute(dispute_id, record_id, keccak(b"reason")))
    assert [r.status for r in next_block(ledger).receipts] == [1, 1]
    opened_at = ledger.head.height
    deadline = opened_at + genesis.preset.dispute_window_blocks
    assert dispute_view(ledger, late).deadline == deadline
    early = commit_one(ledger, regulator, "CreditRegistry", bindings.encode_lapse(late))
    assert (early.status, early.revert_reason) == (0, "deadline not passed")
    while ledger.head.height < deadline - 1:
        next_block(ledger)
    assert commit_one(ledger, bureau, "CreditRegistry", bindings.encode_respond(
        in_time, keccak(b"answer"))).status == 1  # executed at the deadline block itself
    assert ledger.head.height == deadline
    too_late = commit_one(ledger, bureau, "CreditRegistry",
                          bindings.encode_respond(late, keccak(b"answer")))
    assert (too_late.status, too_late.revert_reason) == (0, "deadline passed")
    node_operator = genesis.preset.key("node:hefei-1")  # lapse needs no role, only membership
    assert commit_one(ledger, node_operator, "CreditRegistry",
                      bindings.encode_lapse(late)).status == 1
    assert dispute_view(ledger, late).status == bindings.DisputeStatus.LAPSED
    assert dispute_view(ledger, in_time).status == bindings.DisputeStatus.RESPONDED
    assert commit_one(ledger, regulator, "CreditRegistry",
                      bindings.encode_resolve(late, False)).status == 1
    assert dispute_view(ledger, late).status == bindings.DisputeStatus.REJECTED
    assert ledger.record(record_id).status == ACTIVE


def test_grant_authorizes_until_it_expires(ledger: Ledger, bank: PrivateKey,
                                           genesis: Genesis) -> None:
    enterprise_key = genesis.preset.key(genesis.preset.enterprises[0].label)
    assert not is_authorized(ledger, 0, bank)
    expires_at = ledger.head.timestamp_ms // 1000 + 60
    ledger.admit(grant_call(genesis, enterprise_key, bank, 0, ledger.pending_nonce(bank.address),
                            expires_at=expires_at, scope=scope_of([RecordKind.TAX])))
    [receipt] = next_block(ledger).receipts
    assert receipt.status == 1, receipt.revert_reason
    assert is_authorized(ledger, 0, bank, RecordKind.TAX)
    assert not is_authorized(ledger, 0, bank, RecordKind.LOAN)
    assert not is_authorized(ledger, 1, bank)
    assert not is_authorized(ledger, 0, genesis.preset.key("bank:nanjing"))
    next_block(ledger, interval_ms=60_000)
    assert ledger.head.timestamp_ms // 1000 >= expires_at
    assert not is_authorized(ledger, 0, bank, RecordKind.TAX)


def queue_unchecked(ledger: Ledger, raw: bytes) -> None:
    """Put a transaction in the mempool past admission, as a faulty proposer's block would carry
    it: the contract's own checks still stand behind the admission rules."""
    ledger.mempool.add(ledger.senders.admit(ledger.decode(raw)))


def test_grant_already_expired_is_refused_before_queueing_and_reverts(
        ledger: Ledger, bank: PrivateKey, genesis: Genesis) -> None:
    enterprise_key = genesis.preset.key(genesis.preset.enterprises[0].label)
    raw = grant_call(genesis, enterprise_key, bank, 0, 0,
                     expires_at=ledger.head.timestamp_ms // 1000)
    with pytest.raises(MalformedInput, match="expired") as refused:
        ledger.admit(raw)
    assert refused.value.field == "expires_at"
    assert len(ledger.mempool) == 0 and ledger.pending_nonce(bank.address) == 0
    queue_unchecked(ledger, raw)
    [receipt] = next_block(ledger).receipts
    assert (receipt.status, receipt.revert_reason) == (0, "expired")


def test_revoked_grant_no_longer_authorizes(ledger: Ledger, bank: PrivateKey,
                                            genesis: Genesis) -> None:
    enterprise = genesis.preset.enterprises[2]
    enterprise_key = genesis.preset.key(enterprise.label)
    ledger.admit(grant_call(genesis, enterprise_key, bank, 2, 0))
    next_block(ledger)
    assert is_authorized(ledger, 2, bank)
    digest = bindings.revocation_digest(genesis.chain_id, genesis.contracts.authorization,
                                        enterprise.credit_code.to_bytes32(), bank.address, 1)
    signature = sign_digest(enterprise_key, digest)
    publisher = genesis.preset.key("bureau:hefei")  # any institution may carry the revocation
    receipt = commit_one(ledger, publisher, "Authorization", bindings.encode_revoke_grant(
        enterprise.credit_code.to_bytes32(), bank.address, 1, signature.v, signature.r,
        signature.s))
    assert receipt.status == 1, receipt.revert_reason
    assert not is_authorized(ledger, 2, bank)
    grant = bindings.decode_grant(ledger.call(genesis.contracts.authorization,
                                              bindings.encode_grant_of(
                                                  enterprise.credit_code.to_bytes32(),
                                                  bank.address)).output)
    assert grant.revoked


def test_grant_signed_by_the_wrong_key_is_refused_before_queueing_and_reverts(
        ledger: Ledger, bank: PrivateKey, genesis: Genesis) -> None:
    impostor = genesis.preset.key(genesis.preset.enterprises[1].label)
    raw = grant_call(genesis, impostor, bank, 0, 0)
    with pytest.raises(BadSignature, match="not the enterprise's key"):
        ledger.admit(raw)
    assert len(ledger.mempool) == 0 and ledger.pending_nonce(bank.address) == 0
    queue_unchecked(ledger, raw)
    [receipt] = next_block(ledger).receipts
    assert (receipt.status, receipt.revert_reason) == (0, "bad signature")
    assert receipt.logs == ()
    assert not is_authorized(ledger, 0, bank)
    assert ledger.next_nonce(bank.address) == 1
