"""`Authorization` as a native handler: enterprise keys, EIP-712 grants and revocations, audit
anchors (contracts/src/Authorization.vy).

Rows: enterprise keys (key, grant nonce), grants (scope, expiry, revoked, granted at), audit
sequences (anchoring account, last batch) and audit roots. A signature is recovered with
coincurve; one that does not recover counts as the zero address, as `ecrecover` returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from chain.crypto import SECP256K1_HALF_ORDER, Address, keccak, recover_address
from chain.engine import consortium
from chain.engine.abi import event_log, require
from chain.engine.context import CallContext, HandlerResult
from chain.engine.tables import KEYS, TableOverlay
from chain.errors import BadSignature
from chain.execution import Log
from contracts import bindings
from contracts.events import AuditAnchored, EnterpriseRegistered, GrantIssued, GrantRevoked
from contracts.typed_data import GRANT_TYPE, REVOCATION_TYPE, domain_separator

ZERO = b"\0" * 32
ZERO_ADDRESS = b"\0" * 20
GRANT_TYPE_HASH = keccak(GRANT_TYPE.encode("ascii"))
REVOCATION_TYPE_HASH = keccak(REVOCATION_TYPE.encode("ascii"))
GRANT_FIELDS = "iiii"  # scope, expires_at, revoked, granted_at


_domain_separator = functools.lru_cache(maxsize=16)(domain_separator)
"""The EIP-712 domain of (chain id, Authorization address): the same for every grant."""


def _words(*values: bytes | int) -> bytes:
    """`abi.encode` of static values (bytes32, address, uint256): one 32-byte word each."""
    return b"".join(value.to_bytes(32, "big") if isinstance(value, int)
                    else value.rjust(32, b"\0") for value in values)


def _address(value: int | bytes) -> bytes:
    assert isinstance(value, bytes)
    return value.rjust(20, b"\0")


def load_enterprise_key(tables: TableOverlay, enterprise: bytes) -> tuple[Address, int]:
    """(signing key, next grant nonce) of an enterprise; the zero address when unregistered."""
    key, nonce = tables.read(KEYS.enterprise_key(enterprise), "bi")
    return _address(key), int(nonce)


def load_grant(tables: TableOverlay, enterprise: bytes,
               querier: Address) -> tuple[int, int, bool, int]:
    """(scope, expires_at, revoked, granted_at) of a grant; zeros when none."""
    scope, expires_at, revoked, granted_at = tables.read(
        KEYS.grant(enterprise, querier), GRANT_FIELDS)
    return int(scope), int(expires_at), bool(revoked), int(granted_at)


def load_audit_sequence(tables: TableOverlay, node_id: bytes) -> tuple[Address, int]:
    """(anchoring account, last anchored batch) of a node."""
    account, last = tables.read(KEYS.audit_sequence(node_id), "bi")
    return _address(account), int(last)


def is_authorized(tables: TableOverlay, context: CallContext, enterprise: bytes,
                  querier: Address, kind: int) -> bool:
    """The consent check: an unrevoked, unexpired grant covering `kind`, to an active querier."""
    if kind >= bindings.RECORD_KIND_COUNT:
        return False
    scope, expires_at, revoked, _ = load_grant(tables, enterprise, querier)
    if revoked or context.timestamp >= expires_at:
        return False
    if scope & (1 << kind) == 0:
        return False
    return consortium.has_role(tables, querier, bindings.ROLE_QUERIER)


def _signer(context: CallContext, struct_hash: bytes, v: int, r: bytes, s: bytes) -> Address:
    require(v in (27, 28), "bad signature")
    require(int.from_bytes(s, "big") <= SECP256K1_HALF_ORDER, "bad signature")
    domain = _domain_separator(context.chain_id, context.addresses.authorization)
    digest = keccak(b"\x19\x01" + domain + struct_hash)
    try:
        return recover_address(digest, v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    except BadSignature:
        return ZERO_ADDRESS


def _use_nonce(tables: TableOverlay, enterprise: bytes, grant_nonce: int) -> Address:
    key, nonce = load_enterprise_key(tables, enterprise)
    require(key != ZERO_ADDRESS, "unknown enterprise")
    require(grant_nonce == nonce, "stale nonce")
    tables.write(KEYS.enterprise_key(enterprise), (key, nonce + 1))
    return key


def _log(context: CallContext, event: bindings.Event) -> HandlerResult:
    return HandlerResult(logs=(event_log(context.addresses.authorization, event),))


def _require_registrar(tables: TableOverlay, context: CallContext) -> bool:
    is_regulator = consortium.has_role(tables, context.sender, bindings.ROLE_REGULATOR)
    require(is_regulator or consortium.has_role(tables, context.sender, bindings.ROLE_PUBLISHER),
            "not publisher or regulator")
    return is_regulator


def _register(tables: TableOverlay, context: CallContext, enterprise: bytes, key: Address,
              is_regulator: bool) -> Log:
    require(enterprise != ZERO, "zero enterprise")
    require(key != ZERO_ADDRESS, "zero key")
    current, nonce = load_enterprise_key(tables, enterprise)
    require(is_regulator or current == ZERO_ADDRESS, "key already set")
    tables.write(KEYS.enterprise_key(enterprise), (key, nonce))
    return event_log(context.addresses.authorization, EnterpriseRegistered(enterprise, key))


def register_enterprise(tables: TableOverlay, context: CallContext, enterprise: bytes,
                        key: Address) -> HandlerResult:
    """Set an enterprise's signing key: once by a publisher, at any time by a regulator."""
    is_regulator = _require_registrar(tables, context)
    return HandlerResult(logs=(_register(tables, context, enterprise, key, is_regulator),))


def register_enterprise_batch(tables: TableOverlay, context: CallContext,
                              enterprises: Sequence[bytes],
                              keys: Sequence[Address]) -> HandlerResult:
    """Register up to 64 enterprises' keys at once, all or nothing."""
    is_regulator = _require_registrar(tables, context)
    require(len(enterprises) != 0, "empty batch")
    require(len(keys) == len(enterprises), "length mismatch")
    return HandlerResult(logs=tuple(
        _register(tables, context, enterprise, key, is_regulator)
        for enterprise, key in zip(enterprises, keys, strict=True)))


def grant(tables: TableOverlay, context: CallContext, enterprise: bytes, scope: int,
          expires_at: int, grant_nonce: int, v: int, r: bytes, s: bytes) -> HandlerResult:
    """A querier submits an enterprise's signed grant."""
    require(consortium.has_role(tables, context.sender, bindings.ROLE_QUERIER), "not a querier")
    return HandlerResult(logs=(
        _grant(tables, context, enterprise, scope, expires_at, grant_nonce, v, r, s),))


def grant_batch(tables: TableOverlay, context: CallContext, enterprises: Sequence[bytes],
                scopes: Sequence[int], expiries: Sequence[int], grant_nonces: Sequence[int],
                vs: Sequence[int], rs: Sequence[bytes], ss: Sequence[bytes]) -> HandlerResult:
    """A querier submits up to 64 enterprises' signed grants at once, all or nothing."""
    require(consortium.has_role(tables, context.sender, bindings.ROLE_QUERIER), "not a querier")
    count = len(enterprises)
    require(count != 0, "empty batch")
    require(all(len(column) == count for column in (scopes, expiries, grant_nonces, vs, rs, ss)),
            "length mismatch")
    return HandlerResult(logs=tuple(
        _grant(tables, context, *item)
        for item in zip(enterprises, scopes, expiries, grant_nonces, vs, rs, ss, strict=True)))


def _grant(tables: TableOverlay, context: CallContext, enterprise: bytes, scope: int,
           expires_at: int, grant_nonce: int, v: int, r: bytes, s: bytes) -> Log:
    require(scope != 0 and scope & bindings.ALL_KINDS_SCOPE == scope, "bad scope")
    require(expires_at > context.timestamp, "expired")
    key = _use_nonce(tables, enterprise, grant_nonce)
    struct_hash = keccak(_words(GRANT_TYPE_HASH, enterprise, context.sender, scope, expires_at,
                                grant_nonce))
    require(_signer(context, struct_hash, v, r, s) == key, "bad signature")
    tables.write(KEYS.grant(enterprise, context.sender),
                 (scope, expires_at, 0, context.timestamp))
    return event_log(context.addresses.authorization,
                     GrantIssued(enterprise, context.sender, scope, expires_at))


def revoke_grant(tables: TableOverlay, context: CallContext, enterprise: bytes, querier: Address,
                 grant_nonce: int, v: int, r: bytes, s: bytes) -> HandlerResult:
    """Any institution submits an enterprise's signed revocation of a grant."""
    require(consortium.has_role(tables, context.sender, bindings.ALL_ROLES), "not an institution")
    scope, expires_at, revoked, granted_at = load_grant(tables, enterprise, querier)
    require(expires_at != 0, "no grant")
    require(not revoked, "grant revoked")
    key = _use_nonce(tables, enterprise, grant_nonce)
    struct_hash = keccak(_words(REVOCATION_TYPE_HASH, enterprise, querier, grant_nonce))
    require(_signer(context, struct_hash, v, r, s) == key, "bad signature")
    tables.write(KEYS.grant(enterprise, querier), (scope, expires_at, 1, granted_at))
    return _log(context, GrantRevoked(enterprise, querier))


def anchor_audit(tables: TableOverlay, context: CallContext, node_id: bytes, batch_seq: int,
                 merkle_root: bytes, entry_count: int) -> HandlerResult:
    """A node's operator anchors the next batch of its query log."""
    require(consortium.has_role(tables, context.sender, bindings.ROLE_NODE), "not a node")
    require(node_id != ZERO, "zero node id")
    require(merkle_root != ZERO, "zero root")
    require(entry_count != 0, "empty batch")
    account, last = load_audit_sequence(tables, node_id)
    require(account in (ZERO_ADDRESS, context.sender), "not the node's account")
    require(batch_seq == last + 1, "out of sequence")
    tables.write(KEYS.audit_sequence(node_id), (context.sender, batch_seq))
    tables.write(KEYS.audit_root(node_id, batch_seq), (merkle_root,))
    return _log(context, AuditAnchored(node_id, batch_seq, merkle_root, entry_count))


def _audit_root(tables: TableOverlay, node_id: bytes, batch_seq: int) -> bytes:
    (root,) = tables.read(KEYS.audit_root(node_id, batch_seq), "b")
    assert isinstance(root, bytes)
    return root.rjust(32, b"\0")


def views(tables: TableOverlay, context: CallContext) -> dict[str, Callable[..., tuple[Any, ...]]]:
    """The contract's views by function name."""
    return {
        "enterprise_key": lambda enterprise: (load_enterprise_key(tables, enterprise)[0],),
        "grant_nonce_of": lambda enterprise: (load_enterprise_key(tables, enterprise)[1],),
        "grant_of": lambda enterprise, querier: load_grant(tables, enterprise, querier),
        "is_authorized": lambda enterprise, querier, kind: (
            is_authorized(tables, context, enterprise, querier, kind),),
        "domain_separator": lambda: (
            domain_separator(context.chain_id, context.addresses.authorization),),
        "audit_root": lambda node_id, batch_seq: (_audit_root(tables, node_id, batch_seq),),
        "last_audit_seq": lambda node_id: (load_audit_sequence(tables, node_id)[1],),
        "audit_account": lambda node_id: (load_audit_sequence(tables, node_id)[0],),
        "consortium": lambda: (context.addresses.consortium,),
    }


TRANSACTIONS: dict[str, Callable[..., HandlerResult]] = {
    "register_enterprise": register_enterprise,
    "register_enterprise_batch": register_enterprise_batch, "grant": grant,
    "grant_batch": grant_batch, "revoke_grant": revoke_grant, "anchor_audit": anchor_audit,
}
"""The state-changing functions by name: (tables, context, *arguments) -> result."""
