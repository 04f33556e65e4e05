"""Credit records: kinds, canonical payload encoding and its limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.enterprise import parse_credit_code
from chain.errors import InvalidCreditCode, MalformedInput, OversizedInput
from chain.records import (
    ALL_KINDS_SCOPE,
    MAX_PAYLOAD_BYTES,
    CreditRecord,
    RecordKind,
    decode_record,
    encode_record,
    payload_hash,
    record_id_for,
    scope_of,
)

ENTERPRISE = parse_credit_code("91330100799655058B")


@pytest.mark.parametrize(("value", "kind"), [
    ("tax", RecordKind.TAX), ("TAX", RecordKind.TAX), (6, RecordKind.TAX), ("6", RecordKind.TAX),
    ("social_insurance_housing_fund", RecordKind.SOCIAL_INSURANCE_HOUSING_FUND),
    (0, RecordKind.REGISTRATION), (13, RecordKind.GUARANTEE),
])
def test_record_kind_parses_names_and_numbers(value: str | int, kind: RecordKind) -> None:
    assert RecordKind.parse(value) is kind


@pytest.mark.parametrize("value", ["taxes", "", 14, "14", -1, "-1", "social insurance"])
def test_unknown_record_kind_is_malformed(value: str | int) -> None:
    with pytest.raises(MalformedInput, match=r"record kind .* is unknown") as caught:
        RecordKind.parse(value)
    assert caught.value.field == "kind"


def test_kind_labels_and_scope() -> None:
    assert RecordKind.TAX.label == "tax"
    assert RecordKind.TAX.label_zh == "纳税信息"
    assert scope_of([RecordKind.REGISTRATION, RecordKind.TAX]) == 0b1000001
    assert scope_of(list(RecordKind)) == ALL_KINDS_SCOPE == (1 << 14) - 1


def test_canonical_encoding_ignores_field_order() -> None:
    first = CreditRecord(ENTERPRISE, RecordKind.TAX, "2024", {"paid_cny": 1, "grade": "A"})
    second = CreditRecord(ENTERPRISE, RecordKind.TAX, "2024", {"grade": "A", "paid_cny": 1})
    assert encode_record(first) == encode_record(second)
    assert encode_record(first) == (
        b'{"enterprise":"91330100799655058B","fields":{"grade":"A","paid_cny":1},'
        b'"kind":"tax","period":"2024"}'
    )
    assert payload_hash(encode_record(first)) == payload_hash(encode_record(second))


def test_canonical_encoding_is_utf8_without_escapes() -> None:
    record = CreditRecord(ENTERPRISE, RecordKind.JUDICIAL, "2024-Q3", {"court": "杭州中院"})
    assert "杭州中院".encode() in encode_record(record)


field_values = st.one_of(st.text(max_size=20), st.integers(-(10**30), 10**30), st.booleans())


@given(fields=st.dictionaries(st.text(max_size=12), field_values, max_size=8),
       kind=st.sampled_from(list(RecordKind)), period=st.text(min_size=1, max_size=12))
def test_decode_inverts_encode(fields: dict[str, str | int | bool], kind: RecordKind,
                               period: str) -> None:
    record = CreditRecord(ENTERPRISE, kind, period, fields)
    payload = encode_record(record)
    decoded = decode_record(payload)
    assert decoded == record
    assert encode_record(decoded) == payload
    shuffled = CreditRecord(ENTERPRISE, kind, period, dict(reversed(list(fields.items()))))
    assert encode_record(shuffled) == payload


def test_payload_above_the_limit_is_oversized() -> None:
    record = CreditRecord(ENTERPRISE, RecordKind.TAX, "2024", {"note": "x" * MAX_PAYLOAD_BYTES})
    with pytest.raises(OversizedInput, match=f"at most {MAX_PAYLOAD_BYTES}") as caught:
        decode_record(encode_record(record))
    assert caught.value.field == "payload"
    assert caught.value.http_status == 413


@pytest.mark.parametrize("payload", [
    b"\xff\xfe", b"not json", b"[]", b'{"enterprise":"91330100799655058B"}',
    b'{"enterprise":"91330100799655058B","kind":"tax","period":"","fields":{}}',
    b'{"enterprise":"91330100799655058B","kind":"tax","period":"2024","fields":{"a":1.5}}',
    b'{"enterprise":"91330100799655058B","kind":"tax","period":"2024","fields":[]}',
    b'{"enterprise":"91330100799655058B","kind":"nope","period":"2024","fields":{}}',
])
def test_malformed_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(MalformedInput):
        decode_record(payload)


def test_payload_with_invalid_enterprise_is_refused() -> None:
    document = {"enterprise": "91330100799655058A", "kind": "tax", "period": "2024",
                "fields": {}}
    with pytest.raises(InvalidCreditCode):
        decode_record(json.dumps(document).encode())


def test_record_ids_depend_on_publisher_payload_and_salt() -> None:
    digest = payload_hash(b"payload")
    ids = {record_id_for(b"\1" * 20, digest), record_id_for(b"\2" * 20, digest),
           record_id_for(b"\1" * 20, payload_hash(b"other")), record_id_for(b"\1" * 20, digest, 1)}
    assert len(ids) == 4
    assert record_id_for(b"\1" * 20, digest) == record_id_for(b"\1" * 20, digest, 0)
