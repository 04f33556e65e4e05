"""Credit records: the kinds of the group standard's enterprise report and their payloads.

The payload stays off chain at the node of the city that published it; its keccak hash goes on
chain. The canonical encoding is JSON with sorted keys, no insignificant white space and UTF-8
text, so the same record always hashes the same in any client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from chain.crypto import keccak
from chain.enterprise import EnterpriseId, parse_credit_code
from chain.errors import MalformedInput, OversizedInput
from chain.json_document import decode_json

MAX_PAYLOAD_BYTES = 64 * 1024  # one report item; larger documents belong in several records


class RecordKind(IntEnum):
    """The categories of the enterprise report (《长三角征信链征信一体化服务规范》)."""

    REGISTRATION = 0
    SHAREHOLDERS = 1
    EXECUTIVES = 2
    SOCIAL_INSURANCE_HOUSING_FUND = 3
    BALANCE_SHEET = 4
    INCOME_STATEMENT = 5
    TAX = 6
    CUSTOMS = 7
    UTILITIES = 8
    JUDICIAL = 9
    ADMINISTRATIVE_PENALTY = 10
    LOAN = 11
    REPAYMENT = 12
    GUARANTEE = 13

    @property
    def label_zh(self) -> str:
        """The Chinese name of the category."""
        return KIND_LABELS_ZH[self]

    @property
    def label(self) -> str:
        """The English name of the category."""
        return self.name.lower().replace("_", " ")

    @classmethod
    def parse(cls, value: str | int) -> RecordKind:
        """A kind from its number or its lower-case name; MalformedInput otherwise."""
        try:
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                return cls(int(value))
            return cls[str(value).upper()]
        except (KeyError, ValueError) as error:
            names = ", ".join(kind.name.lower() for kind in cls)
            raise MalformedInput(
                f"record kind {value!r} is unknown; expected one of {names} or 0..{len(cls) - 1}",
                field="kind",
            ) from error


KIND_LABELS_ZH: dict[RecordKind, str] = {
    RecordKind.REGISTRATION: "工商登记",
    RecordKind.SHAREHOLDERS: "股东信息",
    RecordKind.EXECUTIVES: "董监高信息",
    RecordKind.SOCIAL_INSURANCE_HOUSING_FUND: "社保公积金",
    RecordKind.BALANCE_SHEET: "资产负债表",
    RecordKind.INCOME_STATEMENT: "利润表",
    RecordKind.TAX: "纳税信息",
    RecordKind.CUSTOMS: "海关信息",
    RecordKind.UTILITIES: "水电气缴费",
    RecordKind.JUDICIAL: "司法信息",
    RecordKind.ADMINISTRATIVE_PENALTY: "行政处罚",
    RecordKind.LOAN: "信贷信息",
    RecordKind.REPAYMENT: "还款信息",
    RecordKind.GUARANTEE: "担保信息",
}

ALL_KINDS_SCOPE = (1 << len(RecordKind)) - 1


def scope_of(kinds: list[RecordKind] | tuple[RecordKind, ...]) -> int:
    """The grant scope bit mask for some kinds (bit k = kind k)."""
    scope = 0
    for kind in kinds:
        scope |= 1 << int(kind)
    return scope


@dataclass(frozen=True, slots=True)
class CreditRecord:
    """One item of an enterprise's credit report, as published by an institution.

    enterprise: whose record it is.
    kind: the report category.
    period: what the record covers, e.g. "2024", "2024-Q3" or "2024-06-30".
    fields: the item's content, a flat mapping of names to strings, integers or booleans.
    """

    enterprise: EnterpriseId
    kind: RecordKind
    period: str
    fields: Mapping[str, str | int | bool]

    def to_json_object(self) -> dict[str, Any]:
        """The canonical JSON object of the record."""
        return {
            "enterprise": self.enterprise.code,
            "kind": self.kind.name.lower(),
            "period": self.period,
            "fields": dict(self.fields),
        }


def encode_record(record: CreditRecord) -> bytes:
    """The canonical bytes: sorted keys, no white space, UTF-8."""
    return json.dumps(
        record.to_json_object(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def decode_record(payload: bytes) -> CreditRecord:
    """Parse canonical bytes back into a record; MalformedInput if they are not one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise OversizedInput(
            f"record payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES} are accepted",
            field="payload",
        )
    document = decode_json(payload, "payload", max_bytes=MAX_PAYLOAD_BYTES)
    return record_from_json_object(document)


def record_from_json_object(document: object) -> CreditRecord:
    """Validate a JSON object as a credit record."""
    if not isinstance(document, dict):
        raise MalformedInput("record payload must be a JSON object", field="payload")
    missing = {"enterprise", "kind", "period", "fields"} - document.keys()
    if missing:
        raise MalformedInput(f"record payload lacks {sorted(missing)}", field="payload")
    fields = document["fields"]
    if not isinstance(fields, dict) or not all(
        isinstance(key, str) and isinstance(value, str | int | bool)
        for key, value in fields.items()
    ):
        raise MalformedInput(
            "record fields must map names to strings, integers or booleans", field="fields"
        )
    if not isinstance(document["period"], str) or not document["period"]:
        raise MalformedInput("record period must be a non-empty string", field="period")
    return CreditRecord(
        enterprise=parse_credit_code(str(document["enterprise"])),
        kind=RecordKind.parse(document["kind"]),
        period=document["period"],
        fields=fields,
    )


def payload_hash(payload: bytes) -> bytes:
    """The keccak-256 of a payload's canonical bytes: what goes on chain."""
    return keccak(payload)


def record_id_for(publisher: bytes, payload_digest: bytes, salt: int = 0) -> bytes:
    """A record id derived from the publisher, the payload hash and a salt."""
    return keccak(publisher + payload_digest + salt.to_bytes(32, "big"))
