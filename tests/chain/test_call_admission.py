"""Refuse before queueing (chain.call_admission through Ledger.admit): a record write names valid
credit codes, and an enterprise's grant or revocation verifies, before anything is queued."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chain.chain_time import DRIFT_MS_BEHIND
from chain.cities import City
from chain.crypto import SECP256K1_ORDER, PrivateKey
from chain.enterprise import make_credit_code
from chain.errors import (
    BadSignature,
    InvalidCreditCode,
    MalformedInput,
    NonceGap,
    NonceTooLow,
    UnknownEnterprise,
    YrdError,
)
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.records import ALL_KINDS_SCOPE, RecordKind
from chain.wallet import sign_digest
from contracts import bindings
from tests.chain.ledger_helpers import YEAR_S, grant_call, next_block, signed_call

BAD_CODES = (b"91310115000010014Y".ljust(32, b"\0"),  # wrong check character
             b"not a credit code".ljust(32, b"\0"),
             b"\xff" * 32)


def raw_grant(genesis: Genesis, querier: PrivateKey, enterprise: bytes, signer: PrivateKey,
              querier_nonce: int = 0, grant_nonce: int = 0, expires_at: int | None = None,
              scope: int = ALL_KINDS_SCOPE, mangle: Callable[[int, bytes, bytes], tuple[
                  int, bytes, bytes]] | None = None) -> bytes:
    expires = genesis.preset.genesis_timestamp_ms // 1000 + YEAR_S if expires_at is None \
        else expires_at
    digest = bindings.grant_digest(genesis.chain_id, genesis.contracts.authorization, enterprise,
                                   querier.address, scope, expires, grant_nonce)
    signature = sign_digest(signer, digest)
    v, r, s = signature.v, signature.r, signature.s
    if mangle is not None:
        v, r, s = mangle(v, r, s)
    return signed_call(genesis, querier, querier_nonce, "Authorization",
                       bindings.encode_grant(enterprise, scope, expires, grant_nonce, v, r, s))


def high_s(v: int, r: bytes, s: bytes) -> tuple[int, bytes, bytes]:
    """The same signature in its malleable high-s form (v flipped)."""
    return (55 - v, r, (SECP256K1_ORDER - int.from_bytes(s, "big")).to_bytes(32, "big"))


@pytest.fixture
def bank(genesis: Genesis) -> PrivateKey:
    return genesis.preset.key("bank:hangzhou")


@pytest.fixture
def enterprise(genesis: Genesis) -> tuple[bytes, PrivateKey]:
    first = genesis.preset.enterprises[0]
    return first.credit_code.to_bytes32(), genesis.preset.key(first.label)


def assert_refused(ledger: Ledger, raw: bytes, error: type[YrdError], match: str) -> None:
    sender_nonces = ledger.pending_nonce(ledger.senders.admit(ledger.decode(raw)).sender)
    with pytest.raises(error, match=match) as refused:
        ledger.admit(raw)
    assert 400 <= refused.value.http_status < 500
    assert len(ledger.mempool) == 0
    assert ledger.pending_nonce(ledger.senders.admit(ledger.decode(raw)).sender) == sender_nonces


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_publish_naming_an_invalid_credit_code_is_refused(ledger: Ledger, genesis: Genesis,
                                                            code: bytes) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    raw = signed_call(genesis, bureau, 0, "CreditRegistry", bindings.encode_publish(
        b"\1" * 32, code, int(RecordKind.TAX), b"\2" * 32))
    assert_refused(ledger, raw, InvalidCreditCode, "(?i)credit code|check character|ASCII")


def test_a_batch_with_one_invalid_credit_code_is_refused(ledger: Ledger,
                                                         genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    good = genesis.preset.enterprises[0].credit_code.to_bytes32()
    items = [bindings.PublishItem(b"\1" * 32, good, int(RecordKind.TAX), b"\2" * 32),
             bindings.PublishItem(b"\3" * 32, BAD_CODES[0], int(RecordKind.TAX), b"\4" * 32)]
    raw = signed_call(genesis, bureau, 0, "CreditRegistry", bindings.encode_publish_batch(items))
    assert_refused(ledger, raw, InvalidCreditCode, "(?i)credit code|check character|ASCII")


def test_registering_an_invalid_credit_code_is_refused(ledger: Ledger, genesis: Genesis) -> None:
    bureau = genesis.preset.key("bureau:shanghai")
    raw = signed_call(genesis, bureau, 0, "Authorization", bindings.encode_register_enterprise(
        BAD_CODES[0], b"\5" * 20))
    assert_refused(ledger, raw, InvalidCreditCode, "(?i)credit code|check character|ASCII")


GRANT_REFUSALS: dict[str, tuple[dict[str, object], type[YrdError], str]] = {
    "signed by another key": ({"signer": "other"}, BadSignature, "not the enterprise's key"),
    "high s": ({"mangle": high_s}, BadSignature, "low-s"),
    "v = 29": ({"mangle": lambda v, r, s: (29, r, s)}, BadSignature, "v must be 27 or 28"),
    "v = 0": ({"mangle": lambda v, r, s: (0, r, s)}, BadSignature, "v must be 27 or 28"),
    "r = 0": ({"mangle": lambda v, r, s: (v, bytes(32), s)}, BadSignature, "signature r"),
    "future nonce": ({"grant_nonce": 5}, NonceGap, "grant nonce 5 leaves a gap"),
    "already expired": ({"expires_at": "genesis"}, MalformedInput, "expired"),
    "empty scope": ({"scope": 0}, MalformedInput, "scope"),
    "unknown kinds": ({"scope": 1 << 20}, MalformedInput, "scope"),
    "unknown enterprise": ({"enterprise": "unregistered"}, UnknownEnterprise, "no registered"),
}


@pytest.mark.parametrize("case", list(GRANT_REFUSALS))
def test_a_grant_that_would_revert_is_refused_before_queueing(
        case: str, ledger: Ledger, genesis: Genesis, bank: PrivateKey,
        enterprise: tuple[bytes, PrivateKey]) -> None:
    changes, error, match = GRANT_REFUSALS[case]
    code, key = enterprise
    if changes.get("enterprise") == "unregistered":
        code = make_credit_code(City.SHANGHAI, 77_777_777).to_bytes32()
    signer = genesis.preset.key(genesis.preset.enterprises[1].label) \
        if changes.get("signer") == "other" else key
    expires_at = genesis.preset.genesis_timestamp_ms // 1000 \
        if changes.get("expires_at") == "genesis" else None
    raw = raw_grant(genesis, bank, code, signer, grant_nonce=int(changes.get("grant_nonce", 0)),
                    expires_at=expires_at, scope=int(changes.get("scope", ALL_KINDS_SCOPE)),
                    mangle=changes.get("mangle"))  # type: ignore[arg-type]
    assert_refused(ledger, raw, error, match)


def test_grant_nonces_must_follow_the_pending_ones(ledger: Ledger, genesis: Genesis,
                                                   bank: PrivateKey,
                                                   enterprise: tuple[bytes, PrivateKey]) -> None:
    code, key = enterprise
    other_bank = genesis.preset.key("bank:shanghai")
    ledger.admit(raw_grant(genesis, bank, code, key, grant_nonce=0))
    with pytest.raises(NonceTooLow, match="grant nonce 0 was already used or is pending"):
        ledger.admit(raw_grant(genesis, other_bank, code, key, grant_nonce=0))
    assert ledger.pending_grant_nonce(code) == 1
    ledger.admit(raw_grant(genesis, other_bank, code, key, grant_nonce=1))
    assert [r.status for r in next_block(ledger).receipts] == [1, 1]
    assert ledger.pending_grant_nonce(code) == 2
    with pytest.raises(NonceTooLow, match="grant nonce 1"):
        ledger.admit(raw_grant(genesis, bank, code, key, querier_nonce=1, grant_nonce=1))


def test_the_grant_signer_is_recovered_once_per_digest(ledger: Ledger, genesis: Genesis,
                                                       bank: PrivateKey) -> None:
    enterprise_key = genesis.preset.key(genesis.preset.enterprises[0].label)
    raw = grant_call(genesis, enterprise_key, bank, 0, 0)
    admitted = ledger.senders.admit(ledger.decode(raw))
    ledger.check_admissible(admitted)
    ledger.enqueue(admitted)
    assert (ledger.grant_signers.recoveries, ledger.grant_signers.hits) == (1, 1)
    [receipt] = next_block(ledger).receipts
    assert receipt.status == 1


def test_a_grant_expired_by_the_node_clock_is_refused_while_the_head_is_old(
        ledger: Ledger, genesis: Genesis, bank: PrivateKey,
        enterprise: tuple[bytes, PrivateKey]) -> None:
    """Before a network's first block chain time is genesis's; the node's chain clock bounds it
    from below (a grant expired more than `DRIFT_MS_BEHIND` ago is expired in any next block)."""
    code, key = enterprise
    head_s = ledger.head.timestamp_ms // 1000
    long_ago = raw_grant(genesis, bank, code, key, expires_at=head_s + 3_600)
    ledger.admission_clock_ms = lambda: (head_s + 7_200) * 1000  # the clock, two hours on
    assert_refused(ledger, long_ago, MalformedInput, "expired")
    ledger.admission_clock_ms = lambda: (head_s + 3_600) * 1000 + DRIFT_MS_BEHIND - 1_000
    ledger.admit(long_ago)  # within the drift a validator accepts: may still execute, queued
    assert len(ledger.mempool) == 1
