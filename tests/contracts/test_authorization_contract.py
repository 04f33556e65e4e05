"""Authorization: enterprise keys, EIP-712 grants and revocations, audit anchors."""

from __future__ import annotations

from deployed_chain import ENTERPRISE, OTHER_ENTERPRISE, Chain
from evm_harness import CHAIN_ID, Account

from contracts.bindings import (
    ALL_KINDS_SCOPE,
    ROLE_NODE,
    AuditAnchored,
    EnterpriseRegistered,
    GrantIssued,
    GrantRevoked,
    GrantView,
    decode_address,
    decode_bool,
    decode_bytes32,
    decode_grant,
    decode_uint,
    encode_admit,
    encode_anchor_audit,
    encode_audit_account,
    encode_audit_root,
    encode_consortium,
    encode_enterprise_key,
    encode_grant,
    encode_grant_nonce_of,
    encode_grant_of,
    encode_is_authorized,
    encode_last_audit_seq,
    encode_register_enterprise,
    encode_revoke_grant,
    encode_suspend,
    grant_digest,
    revocation_digest,
)

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DAY_SECONDS = 86_400
SCOPE = (1 << 0) | (1 << 3) | (1 << 13)
NODE_ID = b"\x6e" * 32
ROOT = b"\x77" * 32


def _grant_data(
    chain: Chain,
    querier: Account,
    scope: int = SCOPE,
    expires_at: int | None = None,
    nonce: int | None = None,
    signer: Account | None = None,
    enterprise: bytes = ENTERPRISE,
) -> bytes:
    """Calldata of a grant signed in Python with the enterprise's key (or `signer`)."""
    expires = chain.harness.timestamp + DAY_SECONDS if expires_at is None else expires_at
    grant_nonce = _nonce(chain, enterprise) if nonce is None else nonce
    digest = grant_digest(
        CHAIN_ID, chain.authorization, enterprise, querier.address, scope, expires, grant_nonce
    )
    v, r, s = (signer or chain.cast.enterprise_key).sign_digest(digest)
    return encode_grant(enterprise, scope, expires, grant_nonce, v, r, s)


def _revocation_data(
    chain: Chain, querier: Account, nonce: int | None = None, signer: Account | None = None
) -> bytes:
    grant_nonce = _nonce(chain, ENTERPRISE) if nonce is None else nonce
    digest = revocation_digest(
        CHAIN_ID, chain.authorization, ENTERPRISE, querier.address, grant_nonce
    )
    v, r, s = (signer or chain.cast.enterprise_key).sign_digest(digest)
    return encode_revoke_grant(ENTERPRISE, querier.address, grant_nonce, v, r, s)


def _nonce(chain: Chain, enterprise: bytes = ENTERPRISE) -> int:
    return decode_uint(chain.call(chain.authorization, encode_grant_nonce_of(enterprise)))


def _grant(chain: Chain, querier: Account) -> GrantView:
    data = encode_grant_of(ENTERPRISE, querier.address)
    return decode_grant(chain.call(chain.authorization, data))


def _authorized(chain: Chain, querier: Account, kind: int) -> bool:
    data = encode_is_authorized(ENTERPRISE, querier.address, kind)
    return decode_bool(chain.call(chain.authorization, data))


def test_consortium_address_is_readable(chain: Chain) -> None:
    address = decode_address(chain.call(chain.authorization, encode_consortium()))
    assert address == chain.consortium


def test_register_enterprise_by_a_publisher(chain: Chain) -> None:
    key = Account.from_seed(50).address
    data = encode_register_enterprise(OTHER_ENTERPRISE, key)
    outcome = chain.transact(chain.cast.publisher, chain.authorization, data)
    assert outcome.events == (EnterpriseRegistered(OTHER_ENTERPRISE, key),)
    stored = chain.call(chain.authorization, encode_enterprise_key(OTHER_ENTERPRISE))
    assert decode_address(stored) == key


def test_only_a_regulator_replaces_an_enterprise_key(chain: Chain) -> None:
    replacement = Account.from_seed(51).address
    data = encode_register_enterprise(ENTERPRISE, replacement)
    assert chain.refuse(chain.cast.publisher, chain.authorization, data) == "key already set"
    chain.transact(chain.cast.regulator, chain.authorization, data)
    stored = chain.call(chain.authorization, encode_enterprise_key(ENTERPRISE))
    assert decode_address(stored) == replacement


def test_register_enterprise_refusals(chain: Chain) -> None:
    authorization = chain.authorization
    key = Account.from_seed(50).address
    data = encode_register_enterprise(OTHER_ENTERPRISE, key)
    for outsider in (chain.cast.querier, chain.cast.node_operator, chain.cast.stranger):
        assert chain.refuse(outsider, authorization, data) == "not publisher or regulator"
    zero_key = encode_register_enterprise(OTHER_ENTERPRISE, b"\x00" * 20)
    assert chain.refuse(chain.cast.publisher, authorization, zero_key) == "zero key"
    zero_enterprise = encode_register_enterprise(b"\x00" * 32, key)
    assert chain.refuse(chain.cast.publisher, authorization, zero_enterprise) == "zero enterprise"


def test_a_grant_signed_in_python_is_accepted(chain: Chain) -> None:
    querier = chain.cast.querier
    expires_at = chain.harness.timestamp + DAY_SECONDS
    data = _grant_data(chain, querier, expires_at=expires_at)
    outcome = chain.transact(querier, chain.authorization, data)
    assert outcome.events == (GrantIssued(ENTERPRISE, querier.address, SCOPE, expires_at),)
    assert _grant(chain, querier) == GrantView(SCOPE, expires_at, False, chain.harness.timestamp)
    assert _nonce(chain) == 1


def test_is_authorized_follows_the_scope_bits(chain: Chain) -> None:
    querier = chain.cast.querier
    chain.transact(querier, chain.authorization, _grant_data(chain, querier))
    expected = {kind: bool(SCOPE & (1 << kind)) for kind in range(14)}
    assert {kind: _authorized(chain, querier, kind) for kind in range(14)} == expected
    assert not _authorized(chain, querier, 14)
    assert not _authorized(chain, querier, 255)
    assert not _authorized(chain, chain.cast.bureau, 0)


def test_a_grant_expires_with_time(chain: Chain) -> None:
    querier = chain.cast.querier
    expires_at = chain.harness.timestamp + 60
    chain.transact(querier, chain.authorization, _grant_data(chain, querier, expires_at=expires_at))
    chain.harness.set_block(chain.harness.block_number + 1, expires_at - 1)
    assert _authorized(chain, querier, 0)
    chain.harness.set_block(chain.harness.block_number + 1, expires_at)
    assert not _authorized(chain, querier, 0)


def test_a_new_grant_replaces_the_old_one(chain: Chain) -> None:
    querier = chain.cast.querier
    chain.transact(querier, chain.authorization, _grant_data(chain, querier))
    chain.transact(querier, chain.authorization, _grant_data(chain, querier, scope=ALL_KINDS_SCOPE))
    assert _grant(chain, querier).scope == ALL_KINDS_SCOPE
    assert _authorized(chain, querier, 5)
    assert _nonce(chain) == 2


def test_a_suspended_querier_is_not_authorized(chain: Chain) -> None:
    querier = chain.cast.querier
    chain.transact(querier, chain.authorization, _grant_data(chain, querier))
    chain.transact(chain.cast.regulator, chain.consortium, encode_suspend(querier.address))
    assert not _authorized(chain, querier, 0)


def test_grant_with_the_wrong_signer_is_refused(chain: Chain) -> None:
    querier = chain.cast.querier
    data = _grant_data(chain, querier, signer=chain.cast.stranger)
    assert chain.refuse(querier, chain.authorization, data) == "bad signature"


def test_a_grant_for_one_querier_cannot_be_used_by_another(chain: Chain) -> None:
    data = _grant_data(chain, chain.cast.querier)
    assert chain.refuse(chain.cast.bureau, chain.authorization, data) == "bad signature"


def test_a_grant_signed_for_another_chain_is_refused(chain: Chain) -> None:
    querier = chain.cast.querier
    expires_at = chain.harness.timestamp + DAY_SECONDS
    digest = grant_digest(
        CHAIN_ID + 1, chain.authorization, ENTERPRISE, querier.address, SCOPE, expires_at, 0
    )
    v, r, s = chain.cast.enterprise_key.sign_digest(digest)
    data = encode_grant(ENTERPRISE, SCOPE, expires_at, 0, v, r, s)
    assert chain.refuse(querier, chain.authorization, data) == "bad signature"


def test_malleable_and_malformed_signatures_are_refused(chain: Chain) -> None:
    querier = chain.cast.querier
    expires_at = chain.harness.timestamp + DAY_SECONDS
    digest = grant_digest(
        CHAIN_ID, chain.authorization, ENTERPRISE, querier.address, SCOPE, expires_at, 0
    )
    v, r, s = chain.cast.enterprise_key.sign_digest(digest)
    twin_s = (SECP256K1_ORDER - int.from_bytes(s, "big")).to_bytes(32, "big")
    twin_v = 55 - v
    for bad in (
        encode_grant(ENTERPRISE, SCOPE, expires_at, 0, twin_v, r, twin_s),
        encode_grant(ENTERPRISE, SCOPE, expires_at, 0, v - 27, r, s),
        encode_grant(ENTERPRISE, SCOPE, expires_at, 0, v, b"\x00" * 32, s),
    ):
        assert chain.refuse(querier, chain.authorization, bad) == "bad signature"
    chain.transact(
        querier, chain.authorization, encode_grant(ENTERPRISE, SCOPE, expires_at, 0, v, r, s)
    )


def test_an_expired_grant_is_refused(chain: Chain) -> None:
    querier = chain.cast.querier
    now = chain.harness.timestamp
    for expires_at in (now, now - 1):
        data = _grant_data(chain, querier, expires_at=expires_at)
        assert chain.refuse(querier, chain.authorization, data) == "expired"


def test_a_replayed_grant_is_refused(chain: Chain) -> None:
    querier = chain.cast.querier
    data = _grant_data(chain, querier)
    chain.transact(querier, chain.authorization, data)
    assert chain.refuse(querier, chain.authorization, data) == "stale nonce"
    ahead = _grant_data(chain, querier, nonce=5)
    assert chain.refuse(querier, chain.authorization, ahead) == "stale nonce"


def test_grant_refusals(chain: Chain) -> None:
    querier = chain.cast.querier
    data = _grant_data(chain, querier)
    for outsider in (chain.cast.publisher, chain.cast.regulator, chain.cast.stranger):
        assert chain.refuse(outsider, chain.authorization, _grant_data(chain, outsider)) == (
            "not a querier"
        )
    assert chain.refuse(querier, chain.authorization, _grant_data(chain, querier, scope=0)) == (
        "bad scope"
    )
    wide = _grant_data(chain, querier, scope=1 << 14)
    assert chain.refuse(querier, chain.authorization, wide) == "bad scope"
    unknown = _grant_data(chain, querier, enterprise=OTHER_ENTERPRISE)
    assert chain.refuse(querier, chain.authorization, unknown) == "unknown enterprise"
    chain.transact(chain.cast.regulator, chain.consortium, encode_suspend(querier.address))
    assert chain.refuse(querier, chain.authorization, data) == "not a querier"


def test_revoke_grant_by_any_institution(chain: Chain) -> None:
    querier = chain.cast.querier
    chain.transact(querier, chain.authorization, _grant_data(chain, querier))
    outcome = chain.transact(
        chain.cast.publisher, chain.authorization, _revocation_data(chain, querier)
    )
    assert outcome.events == (GrantRevoked(ENTERPRISE, querier.address),)
    assert _grant(chain, querier).revoked
    assert not _authorized(chain, querier, 0)
    assert _nonce(chain) == 2

    chain.transact(querier, chain.authorization, _grant_data(chain, querier))
    assert _authorized(chain, querier, 0)
    assert not _grant(chain, querier).revoked


def test_revoke_grant_refusals(chain: Chain) -> None:
    querier = chain.cast.querier
    authorization = chain.authorization
    assert chain.refuse(querier, authorization, _revocation_data(chain, querier)) == "no grant"
    chain.transact(querier, authorization, _grant_data(chain, querier))
    data = _revocation_data(chain, querier)
    assert chain.refuse(chain.cast.stranger, authorization, data) == "not an institution"
    forged = _revocation_data(chain, querier, signer=chain.cast.stranger)
    assert chain.refuse(querier, authorization, forged) == "bad signature"
    stale = _revocation_data(chain, querier, nonce=0)
    assert chain.refuse(querier, authorization, stale) == "stale nonce"
    chain.transact(querier, authorization, data)
    assert chain.refuse(querier, authorization, data) == "grant revoked"
    assert chain.refuse(querier, authorization, _revocation_data(chain, querier)) == (
        "grant revoked"
    )


def _anchor(node_id: bytes, batch_seq: int, root: bytes = ROOT, entries: int = 12) -> bytes:
    return encode_anchor_audit(node_id, batch_seq, root, entries)


def test_anchor_audit_in_sequence(chain: Chain) -> None:
    node = chain.cast.node_operator
    authorization = chain.authorization
    outcome = chain.transact(node, authorization, _anchor(NODE_ID, 1))
    assert outcome.events == (AuditAnchored(NODE_ID, 1, ROOT, 12),)
    chain.transact(node, authorization, _anchor(NODE_ID, 2, b"\x78" * 32, 3))
    assert decode_uint(chain.call(authorization, encode_last_audit_seq(NODE_ID))) == 2
    assert decode_bytes32(chain.call(authorization, encode_audit_root(NODE_ID, 1))) == ROOT
    assert decode_bytes32(chain.call(authorization, encode_audit_root(NODE_ID, 2))) == (
        b"\x78" * 32
    )
    account = decode_address(chain.call(authorization, encode_audit_account(NODE_ID)))
    assert account == node.address


def test_anchor_audit_refusals(chain: Chain) -> None:
    node = chain.cast.node_operator
    authorization = chain.authorization
    for outsider in (chain.cast.publisher, chain.cast.regulator, chain.cast.stranger):
        assert chain.refuse(outsider, authorization, _anchor(NODE_ID, 1)) == "not a node"
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 2)) == "out of sequence"
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 0)) == "out of sequence"
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 1, b"\x00" * 32)) == "zero root"
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 1, ROOT, 0)) == "empty batch"
    assert chain.refuse(node, authorization, _anchor(b"\x00" * 32, 1)) == "zero node id"
    chain.transact(node, authorization, _anchor(NODE_ID, 1))
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 1)) == "out of sequence"
    assert chain.refuse(node, authorization, _anchor(NODE_ID, 3)) == "out of sequence"


def test_a_node_id_belongs_to_its_first_anchoring_account(chain: Chain) -> None:
    other_node = Account.from_seed(60)
    admit = encode_admit(other_node.address, ROLE_NODE, 2, "Nanjing node")
    chain.transact(chain.cast.regulator, chain.consortium, admit)
    chain.transact(chain.cast.node_operator, chain.authorization, _anchor(NODE_ID, 1))
    data = _anchor(NODE_ID, 2)
    assert chain.refuse(other_node, chain.authorization, data) == "not the node's account"
    chain.transact(other_node, chain.authorization, _anchor(b"\x6f" * 32, 1))
