"""Bounded JSON decoding: depth and size refused before the decoder recurses."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.errors import MalformedInput, OversizedInput
from chain.json_document import MAX_JSON_DEPTH, decode_json, json_depth

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab,:"),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet="[]{}ab"), children, max_size=4),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


@given(JSON_VALUES)
def test_depth_is_never_under_the_true_depth(value: object) -> None:
    text = json.dumps(value).encode()
    assert json_depth(text) >= _depth(value)
    if _depth(value) <= MAX_JSON_DEPTH:
        assert decode_json(text) == value


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 10_000, "list": [[1]]}).encode()
    assert json_depth(text) == 3
    assert decode_json(text)["list"] == [[1]]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * 200_000,
    b'[{"raw": ' * 50_000,
])
def test_deep_nesting_is_refused_without_recursing(body: bytes) -> None:
    assert sys.getrecursionlimit() >= 1_000
    with pytest.raises(MalformedInput, match="nested at most 64 levels"):
        decode_json(body)


def test_exactly_the_limit_is_accepted_and_one_more_refused() -> None:
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert _depth(decode_json(at_limit)) == MAX_JSON_DEPTH
    with pytest.raises(MalformedInput):
        decode_json(b"[" + at_limit + b"]")


def test_oversized_and_invalid_documents_are_refused_with_their_field() -> None:
    with pytest.raises(OversizedInput) as oversized:
        decode_json(b" " * 101, "payload", max_bytes=100)
    assert oversized.value.field == "payload"
    for bad in (b"{", b"\xff\xfe", b"[1,]", b""):
        with pytest.raises(MalformedInput):
            decode_json(bad)


def test_the_recursion_limit_is_what_execution_needs() -> None:
    import chain.execution  # noqa: F401  (py-evm and py_ecc raise the limit when imported)

    assert sys.getrecursionlimit() == 12_288
