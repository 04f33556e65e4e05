"""Calldata decoded once per node: what `decode_remembered` answers is eth_abi's answer, the
same object for the same bytes, and calldata that does not decode raises every time."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError

from chain import abi_memo
from chain.abi_memo import decode_remembered

TYPES = ("bytes32[]", "bytes32[]", "uint8[]", "bytes32[]")


def _calldata(count: int, salt: int) -> bytes:
    words = [salt.to_bytes(2, "big") * 16 for _ in range(count)]
    return encode(list(TYPES), [words, words, [salt % 256] * count, words])


def test_the_answer_is_eth_abis_and_remembered_for_the_same_bytes() -> None:
    data = _calldata(64, 7)
    first = decode_remembered(TYPES, data)
    assert first == tuple(decode(list(TYPES), data))
    assert decode_remembered(TYPES, bytes(bytearray(data))) is first  # equal bytes, new object


def test_calldata_that_does_not_decode_raises_every_time() -> None:
    data = _calldata(3, 9)[:-32]  # the last array is one word short
    for _ in range(2):
        with pytest.raises(DecodingError):
            decode_remembered(TYPES, data)


def test_only_the_latest_calldata_are_kept() -> None:
    for salt in range(abi_memo.CAPACITY + 10):
        decode_remembered(TYPES, _calldata(1, salt))
    assert len(abi_memo._decoded) <= abi_memo.CAPACITY
