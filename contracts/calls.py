"""Calldata for the functions that change state, one encoder per contract function.

Accounts travel as 20 raw bytes, hashes and ids as 32 bytes, enterprise ids as the 18 ASCII
characters of the code zero-padded to 32 bytes. The result is the whole calldata: selector
followed by the ABI-encoded arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import encode

from contracts.functions import FUNCTIONS
from contracts.words import encode_static_arrays, encode_static_words


def encode_call(function_name: str, *arguments: object) -> bytes:
    """Calldata for any function in the table, by name."""
    function = FUNCTIONS[function_name]
    words = encode_static_words(function.input_types, arguments)
    if words is None:
        words = encode_static_arrays(function.input_types, arguments)
    if words is not None:
        return function.selector + words
    return function.selector + encode(list(function.input_types), list(arguments))


@dataclass(frozen=True, slots=True)
class PublishItem:
    """One record of a `publish_batch` call."""

    record_id: bytes
    enterprise: bytes
    kind: int
    payload_hash: bytes


def encode_admit(account: bytes, roles: int, city: int, name: str) -> bytes:
    """Consortium.admit: the regulator admits an institution."""
    return encode_call("admit", account, roles, city, name)


def encode_set_roles(account: bytes, roles: int) -> bytes:
    """Consortium.set_roles: replace an institution's role bits."""
    return encode_call("set_roles", account, roles)


def encode_suspend(account: bytes) -> bytes:
    """Consortium.suspend: an active institution stops acting until reinstated."""
    return encode_call("suspend", account)


def encode_reinstate(account: bytes) -> bytes:
    """Consortium.reinstate: a suspended institution becomes active again."""
    return encode_call("reinstate", account)


def encode_remove(account: bytes) -> bytes:
    """Consortium.remove: the institution leaves for good."""
    return encode_call("remove", account)


def encode_add_validator(node_key: bytes, city: int) -> bytes:
    """Consortium.add_validator: a node's Ed25519 public key joins the validator set."""
    return encode_call("add_validator", node_key, city)


def encode_remove_validator(node_key: bytes) -> bytes:
    """Consortium.remove_validator: a node's key leaves the validator set."""
    return encode_call("remove_validator", node_key)


def encode_publish(record_id: bytes, enterprise: bytes, kind: int, payload_hash: bytes) -> bytes:
    """CreditRegistry.publish: version 1 of a new credit record."""
    return encode_call("publish", record_id, enterprise, kind, payload_hash)


def encode_publish_batch(items: Sequence[PublishItem]) -> bytes:
    """CreditRegistry.publish_batch: up to 64 new records in one transaction."""
    return encode_call(
        "publish_batch",
        [item.record_id for item in items],
        [item.enterprise for item in items],
        [item.kind for item in items],
        [item.payload_hash for item in items],
    )


def encode_correct(old_record_id: bytes, new_record_id: bytes, payload_hash: bytes) -> bytes:
    """CreditRegistry.correct: a new version replacing an active record."""
    return encode_call("correct", old_record_id, new_record_id, payload_hash)


def encode_revoke(record_id: bytes, reason: int) -> bytes:
    """CreditRegistry.revoke: withdraw an active record."""
    return encode_call("revoke", record_id, reason)


def encode_open_dispute(dispute_id: bytes, record_id: bytes, reason_hash: bytes) -> bytes:
    """CreditRegistry.open_dispute: contest a record on an enterprise's behalf."""
    return encode_call("open_dispute", dispute_id, record_id, reason_hash)


def encode_respond(dispute_id: bytes, response_hash: bytes) -> bytes:
    """CreditRegistry.respond: the record's publisher answers before the deadline."""
    return encode_call("respond", dispute_id, response_hash)


def encode_resolve(dispute_id: bytes, upheld: bool) -> bytes:
    """CreditRegistry.resolve: a regulator decides; upheld revokes the record."""
    return encode_call("resolve", dispute_id, upheld)


def encode_lapse(dispute_id: bytes) -> bytes:
    """CreditRegistry.lapse: mark an unanswered dispute past its deadline."""
    return encode_call("lapse", dispute_id)


def encode_register_enterprise(enterprise: bytes, key: bytes) -> bytes:
    """Authorization.register_enterprise: the account whose signatures speak for an enterprise."""
    return encode_call("register_enterprise", enterprise, key)


def encode_register_enterprise_batch(items: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Authorization.register_enterprise_batch: up to 64 (enterprise, key) pairs at once."""
    return encode_call("register_enterprise_batch", [enterprise for enterprise, _ in items],
                       [key for _, key in items])


@dataclass(frozen=True, slots=True)
class GrantItem:
    """One enterprise's signed grant in a `grant_batch` call (to the sender)."""

    enterprise: bytes
    scope: int
    expires_at: int
    grant_nonce: int
    v: int
    r: bytes
    s: bytes


def encode_grant_batch(items: Sequence[GrantItem]) -> bytes:
    """Authorization.grant_batch: up to 64 enterprises' signed grants to the sender."""
    return encode_call(
        "grant_batch",
        [item.enterprise for item in items], [item.scope for item in items],
        [item.expires_at for item in items], [item.grant_nonce for item in items],
        [item.v for item in items], [item.r for item in items], [item.s for item in items],
    )


def encode_grant(
    enterprise: bytes,
    scope: int,
    expires_at: int,
    grant_nonce: int,
    v: int,
    r: bytes,
    s: bytes,
) -> bytes:
    """Authorization.grant: the querier submits the enterprise's signed EIP-712 grant."""
    return encode_call("grant", enterprise, scope, expires_at, grant_nonce, v, r, s)


def encode_revoke_grant(
    enterprise: bytes, querier: bytes, grant_nonce: int, v: int, r: bytes, s: bytes
) -> bytes:
    """Authorization.revoke_grant: submit the enterprise's signed EIP-712 revocation."""
    return encode_call("revoke_grant", enterprise, querier, grant_nonce, v, r, s)


def encode_anchor_audit(
    node_id: bytes, batch_seq: int, merkle_root: bytes, entry_count: int
) -> bytes:
    """Authorization.anchor_audit: the Merkle root of a node's next batch of query logs."""
    return encode_call("anchor_audit", node_id, batch_seq, merkle_root, entry_count)
