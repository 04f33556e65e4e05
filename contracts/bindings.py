"""Typed Python bindings of the yrdchain contracts: the one door to their ABI.

Artifacts (`load_artifact`, `deploy_code`, `contract_address`), calldata encoders for every
function (`encode_publish`, ...), view decoders (`decode_record`, ...), event decoding
(`decode_event`), revert reasons (`decode_revert_reason`), EIP-712 digests of enterprise
signatures (`grant_digest`, `revocation_digest`) and the function table used for admission
(`selector_of`, `function_for`). Other modules import from here, never ABI by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

from contracts.calls import (
    GrantItem,
    PublishItem,
    encode_add_validator,
    encode_admit,
    encode_anchor_audit,
    encode_call,
    encode_correct,
    encode_grant,
    encode_grant_batch,
    encode_lapse,
    encode_open_dispute,
    encode_publish,
    encode_publish_batch,
    encode_register_enterprise,
    encode_register_enterprise_batch,
    encode_reinstate,
    encode_remove,
    encode_remove_validator,
    encode_resolve,
    encode_respond,
    encode_revoke,
    encode_revoke_grant,
    encode_set_roles,
    encode_suspend,
)
from contracts.constants import (
    ALL_KINDS_SCOPE,
    ALL_ROLES,
    FIRST_CITY,
    INSTITUTION_NAME_LIMIT,
    LAST_CITY,
    NO_ROLE,
    PUBLISH_BATCH_LIMIT,
    RECORD_KIND_COUNT,
    ROLE_NODE,
    ROLE_PUBLISHER,
    ROLE_QUERIER,
    ROLE_REGULATOR,
    UPHELD_DISPUTE_REASON,
    DisputeStatus,
    InstitutionStatus,
    RecordStatus,
)
from contracts.events import (
    EVENT_LAYOUTS,
    AuditAnchored,
    DisputeLapsed,
    DisputeOpened,
    DisputeResolved,
    DisputeResponded,
    EnterpriseRegistered,
    Event,
    EventField,
    EventLayout,
    GrantIssued,
    GrantRevoked,
    InstitutionAdmitted,
    InstitutionReinstated,
    InstitutionRemoved,
    InstitutionSuspended,
    RecordCorrected,
    RecordPublished,
    RecordRevoked,
    RolesChanged,
    ValidatorAdded,
    ValidatorRemoved,
    decode_event,
    event_topic,
)
from contracts.functions import (
    FUNCTIONS,
    ContractFunction,
    UnknownFunctionError,
    function_for,
    selector_of,
)
from contracts.typed_data import (
    domain_separator,
    grant_digest,
    grant_typed_data,
    revocation_digest,
    revocation_typed_data,
)
from contracts.views import (
    DisputeView,
    GrantView,
    InstitutionView,
    RecordView,
    decode_address,
    decode_bool,
    decode_bytes32,
    decode_dispute,
    decode_grant,
    decode_institution,
    decode_record,
    decode_uint,
    encode_audit_account,
    encode_audit_root,
    encode_consortium,
    encode_dispute,
    encode_dispute_window,
    encode_domain_separator,
    encode_enterprise_key,
    encode_grant_nonce_of,
    encode_grant_of,
    encode_has_role,
    encode_institution,
    encode_is_authorized,
    encode_is_validator,
    encode_last_audit_seq,
    encode_record,
    encode_record_at,
    encode_record_count,
    encode_regulator,
    encode_validator_city,
    encode_validator_count,
)

ARTIFACT_DIRECTORY = Path(__file__).resolve().parent / "artifacts"
"""Where `python -m contracts.build` writes the compiled contracts."""
DEPLOYMENT_ORDER = ("Consortium", "CreditRegistry", "Authorization")
"""Genesis deploys the contracts from the regulator's account with nonces 0, 1, 2."""
ENTERPRISE_ID_LENGTH = 18
"""Characters in a Unified Social Credit Code."""
ERROR_SELECTOR = keccak(text="Error(string)")[:4]
"""The selector of a revert reason (`assert cond, "reason"` in Vyper)."""


@dataclass(frozen=True, slots=True)
class ContractArtifact:
    """A compiled contract, as written by `contracts.build`."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    """Init code: what a deployment transaction carries (before constructor arguments)."""
    runtime_bytecode: bytes
    """The code stored at the contract's address after deployment."""


def _hex_bytes(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


@cache
def load_artifact(name: str) -> ContractArtifact:
    """The compiled contract `name` ("Consortium", "CreditRegistry" or "Authorization")."""
    document = json.loads((ARTIFACT_DIRECTORY / f"{name}.json").read_text("utf-8"))
    return ContractArtifact(
        name=document["name"],
        abi=tuple(document["abi"]),
        bytecode=_hex_bytes(document["bytecode"]),
        runtime_bytecode=_hex_bytes(document["runtime_bytecode"]),
    )


def _constructor_types(artifact: ContractArtifact) -> list[str]:
    for entry in artifact.abi:
        if entry["type"] == "constructor":
            return [argument["type"] for argument in entry["inputs"]]
    return []


def deploy_code(artifact: ContractArtifact, *constructor_arguments: object) -> bytes:
    """The data of a deployment transaction: init code then ABI-encoded constructor arguments.

    CreditRegistry takes (consortium address, dispute window in blocks); Authorization takes
    (consortium address); Consortium takes nothing.
    """
    types = _constructor_types(artifact)
    if len(types) != len(constructor_arguments):
        raise ValueError(
            f"expected {len(types)} constructor arguments for {artifact.name}, "
            f"got {len(constructor_arguments)}"
        )
    return artifact.bytecode + encode(types, list(constructor_arguments))


def _rlp_bytes(value: bytes) -> bytes:
    if len(value) == 1 and value[0] < 0x80:
        return value
    return bytes([0x80 + len(value)]) + value


def contract_address(deployer: bytes, nonce: int) -> bytes:
    """The address of the contract `deployer` creates with `nonce`: keccak(rlp([sender, nonce]))."""
    nonce_bytes = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
    payload = _rlp_bytes(deployer) + _rlp_bytes(nonce_bytes)
    return keccak(bytes([0xC0 + len(payload)]) + payload)[12:]


def decode_revert_reason(output: bytes) -> str | None:
    """The reason of a revert carrying `Error(string)`, or None for any other output."""
    if output[:4] != ERROR_SELECTOR:
        return None
    try:
        (reason,) = decode(["string"], output[4:])
    except Exception:
        return None
    return str(reason)


def encode_enterprise_id(code: str) -> bytes:
    """An 18-character Unified Social Credit Code as the contracts' bytes32."""
    raw = code.encode("ascii")
    if len(raw) != ENTERPRISE_ID_LENGTH:
        raise ValueError(f"expected {ENTERPRISE_ID_LENGTH} characters, got {len(raw)}")
    return raw.ljust(32, b"\x00")


def decode_enterprise_id(enterprise: bytes) -> str:
    """The Unified Social Credit Code in a contract's bytes32."""
    return enterprise.rstrip(b"\x00").decode("ascii")


__all__ = [
    "ALL_KINDS_SCOPE",
    "ALL_ROLES",
    "ARTIFACT_DIRECTORY",
    "DEPLOYMENT_ORDER",
    "ENTERPRISE_ID_LENGTH",
    "ERROR_SELECTOR",
    "EVENT_LAYOUTS",
    "FIRST_CITY",
    "FUNCTIONS",
    "INSTITUTION_NAME_LIMIT",
    "LAST_CITY",
    "NO_ROLE",
    "PUBLISH_BATCH_LIMIT",
    "RECORD_KIND_COUNT",
    "ROLE_NODE",
    "ROLE_PUBLISHER",
    "ROLE_QUERIER",
    "ROLE_REGULATOR",
    "UPHELD_DISPUTE_REASON",
    "AuditAnchored",
    "ContractArtifact",
    "ContractFunction",
    "DisputeLapsed",
    "DisputeOpened",
    "DisputeResolved",
    "DisputeResponded",
    "DisputeStatus",
    "DisputeView",
    "EnterpriseRegistered",
    "Event",
    "EventField",
    "EventLayout",
    "GrantIssued",
    "GrantItem",
    "GrantRevoked",
    "GrantView",
    "InstitutionAdmitted",
    "InstitutionReinstated",
    "InstitutionRemoved",
    "InstitutionStatus",
    "InstitutionSuspended",
    "InstitutionView",
    "PublishItem",
    "RecordCorrected",
    "RecordPublished",
    "RecordRevoked",
    "RecordStatus",
    "RecordView",
    "RolesChanged",
    "UnknownFunctionError",
    "ValidatorAdded",
    "ValidatorRemoved",
    "contract_address",
    "decode_address",
    "decode_bool",
    "decode_bytes32",
    "decode_dispute",
    "decode_enterprise_id",
    "decode_event",
    "decode_grant",
    "decode_institution",
    "decode_record",
    "decode_revert_reason",
    "decode_uint",
    "deploy_code",
    "domain_separator",
    "encode_add_validator",
    "encode_admit",
    "encode_anchor_audit",
    "encode_audit_account",
    "encode_audit_root",
    "encode_call",
    "encode_consortium",
    "encode_correct",
    "encode_dispute",
    "encode_dispute_window",
    "encode_domain_separator",
    "encode_enterprise_id",
    "encode_enterprise_key",
    "encode_grant",
    "encode_grant_batch",
    "encode_grant_nonce_of",
    "encode_grant_of",
    "encode_has_role",
    "encode_institution",
    "encode_is_authorized",
    "encode_is_validator",
    "encode_lapse",
    "encode_last_audit_seq",
    "encode_open_dispute",
    "encode_publish",
    "encode_publish_batch",
    "encode_record",
    "encode_record_at",
    "encode_record_count",
    "encode_register_enterprise",
    "encode_register_enterprise_batch",
    "encode_regulator",
    "encode_reinstate",
    "encode_remove",
    "encode_remove_validator",
    "encode_resolve",
    "encode_respond",
    "encode_revoke",
    "encode_revoke_grant",
    "encode_set_roles",
    "encode_suspend",
    "encode_validator_city",
    "encode_validator_count",
    "event_topic",
    "function_for",
    "grant_digest",
    "grant_typed_data",
    "load_artifact",
    "revocation_digest",
    "revocation_typed_data",
    "selector_of",
]
