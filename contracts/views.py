"""Calldata for the view functions and decoders for what they return.

Each `encode_<view>` builds the calldata of an eth_call; the matching `decode_<result>` turns
the returned bytes into a value. Addresses come back as 20 raw bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode

from contracts.calls import encode_call
from contracts.constants import DisputeStatus, InstitutionStatus, RecordStatus
from contracts.functions import FUNCTIONS
from contracts.words import WORD, decode_static_words


@dataclass(frozen=True, slots=True)
class InstitutionView:
    """Consortium.institution: an account's membership."""

    roles: int
    status: InstitutionStatus
    city: int
    name: str


@dataclass(frozen=True, slots=True)
class RecordView:
    """CreditRegistry.record: one version of a credit record."""

    enterprise: bytes
    kind: int
    payload_hash: bytes
    publisher: bytes
    version: int
    previous: bytes
    """The record this version corrects; 32 zero bytes for version 1."""
    next: bytes
    """The version correcting this one; 32 zero bytes while none does."""
    status: RecordStatus
    published_at: int
    """Block number of publication."""

    @property
    def exists(self) -> bool:
        """False for the all-zero answer about an unknown record id."""
        return self.status != RecordStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class DisputeView:
    """CreditRegistry.dispute: a dispute over one record."""

    record_id: bytes
    opener: bytes
    reason_hash: bytes
    response_hash: bytes
    status: DisputeStatus
    opened_at: int
    """Block number at which it was opened."""
    deadline: int
    """Last block number at which the publisher may respond."""

    @property
    def exists(self) -> bool:
        """False for the all-zero answer about an unknown dispute id."""
        return self.status != DisputeStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class GrantView:
    """Authorization.grant_of: an enterprise's grant to one querier."""

    scope: int
    """Bit k set: the querier may read records of kind k."""
    expires_at: int
    """Unix seconds; the grant is valid while block.timestamp < expires_at."""
    revoked: bool
    granted_at: int
    """Unix seconds (block timestamp) of the latest grant; 0 when none was ever issued."""


def _address(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _decode_results(function_name: str, output: bytes) -> tuple[Any, ...]:
    return decode(list(FUNCTIONS[function_name].output_types), output)


def decode_bool(output: bytes) -> bool:
    """The result of a view returning one bool (has_role, is_validator, is_authorized)."""
    (value,) = decode_static_words(("bool",), output) or decode(["bool"], output)
    return bool(value)


def decode_uint(output: bytes) -> int:
    """The result of a view returning one unsigned integer."""
    (value,) = decode_static_words(("uint256",), output) or decode(["uint256"], output)
    return int(value)


def decode_bytes32(output: bytes) -> bytes:
    """The result of a view returning one bytes32 (record_at, audit_root, domain_separator)."""
    (value,) = decode(["bytes32"], output)
    return bytes(value)


def decode_address(output: bytes) -> bytes:
    """The result of a view returning one address, as 20 raw bytes."""
    if len(output) == WORD and not any(output[:12]):
        return bytes(output[12:])
    (value,) = decode(["address"], output)
    return _address(value)


def decode_institution(output: bytes) -> InstitutionView:
    """The result of Consortium.institution."""
    roles, status, city, name = _decode_results("institution", output)
    return InstitutionView(roles, InstitutionStatus(status), city, name)


def decode_record(output: bytes) -> RecordView:
    """The result of CreditRegistry.record."""
    values: Sequence[Any] = _decode_results("record", output)
    enterprise, kind, payload_hash, publisher, version, previous, following, status, at = values
    return RecordView(
        enterprise=enterprise,
        kind=kind,
        payload_hash=payload_hash,
        publisher=_address(publisher),
        version=version,
        previous=previous,
        next=following,
        status=RecordStatus(status),
        published_at=at,
    )


def decode_dispute(output: bytes) -> DisputeView:
    """The result of CreditRegistry.dispute."""
    record_id, opener, reason_hash, response_hash, status, opened_at, deadline = _decode_results(
        "dispute", output
    )
    return DisputeView(
        record_id=record_id,
        opener=_address(opener),
        reason_hash=reason_hash,
        response_hash=response_hash,
        status=DisputeStatus(status),
        opened_at=opened_at,
        deadline=deadline,
    )


def decode_grant(output: bytes) -> GrantView:
    """The result of Authorization.grant_of."""
    scope, expires_at, revoked, granted_at = _decode_results("grant_of", output)
    return GrantView(scope, expires_at, bool(revoked), granted_at)


def encode_has_role(account: bytes, role: int) -> bytes:
    """Consortium.has_role -> decode_bool: active and holding any of the bits in `role`."""
    return encode_call("has_role", account, role)


def encode_institution(account: bytes) -> bytes:
    """Consortium.institution -> decode_institution."""
    return encode_call("institution", account)


def encode_is_validator(node_key: bytes) -> bytes:
    """Consortium.is_validator -> decode_bool."""
    return encode_call("is_validator", node_key)


def encode_validator_city(node_key: bytes) -> bytes:
    """Consortium.validator_city -> decode_uint (0 when not a validator)."""
    return encode_call("validator_city", node_key)


def encode_validator_count() -> bytes:
    """Consortium.validator_count -> decode_uint."""
    return encode_call("validator_count")


def encode_regulator() -> bytes:
    """Consortium.regulator -> decode_address: the deployer."""
    return encode_call("regulator")


def encode_record(record_id: bytes) -> bytes:
    """CreditRegistry.record -> decode_record."""
    return encode_call("record", record_id)


def encode_record_count(enterprise: bytes) -> bytes:
    """CreditRegistry.record_count -> decode_uint: every version ever published."""
    return encode_call("record_count", enterprise)


def encode_record_at(enterprise: bytes, index: int) -> bytes:
    """CreditRegistry.record_at -> decode_bytes32; reverts "index out of range"."""
    return encode_call("record_at", enterprise, index)


def encode_dispute(dispute_id: bytes) -> bytes:
    """CreditRegistry.dispute -> decode_dispute."""
    return encode_call("dispute", dispute_id)


def encode_dispute_window() -> bytes:
    """CreditRegistry.dispute_window -> decode_uint: blocks a publisher has to respond."""
    return encode_call("dispute_window")


def encode_consortium() -> bytes:
    """CreditRegistry.consortium or Authorization.consortium -> decode_address."""
    return encode_call("consortium")


def encode_enterprise_key(enterprise: bytes) -> bytes:
    """Authorization.enterprise_key -> decode_address."""
    return encode_call("enterprise_key", enterprise)


def encode_grant_of(enterprise: bytes, querier: bytes) -> bytes:
    """Authorization.grant_of -> decode_grant."""
    return encode_call("grant_of", enterprise, querier)


def encode_is_authorized(enterprise: bytes, querier: bytes, kind: int) -> bytes:
    """Authorization.is_authorized -> decode_bool."""
    return encode_call("is_authorized", enterprise, querier, kind)


def encode_grant_nonce_of(enterprise: bytes) -> bytes:
    """Authorization.grant_nonce_of -> decode_uint: the nonce the next signature must carry."""
    return encode_call("grant_nonce_of", enterprise)


def encode_domain_separator() -> bytes:
    """Authorization.domain_separator -> decode_bytes32."""
    return encode_call("domain_separator")


def encode_audit_root(node_id: bytes, batch_seq: int) -> bytes:
    """Authorization.audit_root -> decode_bytes32."""
    return encode_call("audit_root", node_id, batch_seq)


def encode_last_audit_seq(node_id: bytes) -> bytes:
    """Authorization.last_audit_seq -> decode_uint: 0 before the first anchor."""
    return encode_call("last_audit_seq", node_id)


def encode_audit_account(node_id: bytes) -> bytes:
    """Authorization.audit_account -> decode_address: the account bound to a node id."""
    return encode_call("audit_account", node_id)
