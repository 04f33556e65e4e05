"""ABI words of static types by hand: the hot paths' encoder and decoder, `eth_abi` the reference.

Admission, execution and indexing encode and decode the same few shapes on every node for every
transaction: calldata and results made of `bytes32`, `address`, `bool` and `uintN` words. These
functions produce exactly the bytes and values `eth_abi` does for those; for anything else (a
dynamic type, a value of another type, dirty padding, a length that does not match) they return
None and the caller asks `eth_abi`, so errors stay `eth_abi`'s own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WORD = 32
_ZERO_PAD_ADDRESS = bytes(12)
_UINT_BITS = {f"uint{bits}": bits for bits in range(8, 257, 8)}


def decode_static_word(abi_type: str, word: bytes) -> Any:
    """One ABI word of a static type, as strictly as `eth_abi` decodes it (address as 20 raw
    bytes); ValueError for dirty padding, KeyError for a type that is not a static word."""
    if abi_type == "bytes32":
        return bytes(word)
    value = int.from_bytes(word, "big")
    if abi_type == "address":
        if value >> 160:
            raise ValueError("address with non-zero padding")
        return bytes(word[12:])
    if abi_type == "bool":
        if value > 1:
            raise ValueError("boolean other than 0 or 1")
        return value == 1
    if abi_type.startswith("uint"):
        if value >> int(abi_type[4:]):
            raise ValueError(f"{abi_type} out of range")
        return value
    raise KeyError(abi_type)


def encode_static_words(abi_types: Sequence[str], values: Sequence[Any]) -> bytes | None:
    """`eth_abi.encode(abi_types, values)` for static words; None off the fast path."""
    if len(abi_types) != len(values):
        return None
    words: list[bytes] = []
    for abi_type, value in zip(abi_types, values, strict=True):
        kind = type(value)
        if abi_type == "bytes32" and kind is bytes and len(value) == WORD:
            words.append(value)
        elif abi_type == "address" and kind is bytes and len(value) == 20:
            words.append(_ZERO_PAD_ADDRESS + value)
        elif abi_type == "bool" and kind is bool:
            words.append(int(value).to_bytes(WORD, "big"))
        elif kind is int and abi_type in _UINT_BITS and 0 <= value < 1 << _UINT_BITS[abi_type]:
            words.append(value.to_bytes(WORD, "big"))
        else:
            return None
    return b"".join(words)


def encode_static_arrays(abi_types: Sequence[str], values: Sequence[Any]) -> bytes | None:
    """`eth_abi.encode(abi_types, values)` for dynamic arrays of static words (`bytes32[]`,
    `uint8[]`: the batch functions' arguments); None off the fast path."""
    if len(abi_types) != len(values):
        return None
    tails: list[bytes] = []
    for abi_type, array in zip(abi_types, values, strict=True):
        if not abi_type.endswith("[]") or type(array) not in (list, tuple):
            return None
        words = encode_static_words([abi_type[:-2]] * len(array), array)
        if words is None:
            return None
        tails.append(len(array).to_bytes(WORD, "big") + words)
    head: list[bytes] = []
    offset = WORD * len(tails)
    for tail in tails:
        head.append(offset.to_bytes(WORD, "big"))
        offset += len(tail)
    return b"".join(head) + b"".join(tails)


def decode_static_words(abi_types: Sequence[str], data: bytes) -> tuple[Any, ...] | None:
    """`eth_abi.decode(abi_types, data)` for words of `bytes32`, `bool` and `uintN` (not
    `address`: eth_abi answers it as checksummed text); None off the fast path."""
    if len(data) != WORD * len(abi_types):
        return None
    values: list[Any] = []
    for index, abi_type in enumerate(abi_types):
        if abi_type == "address":
            return None
        try:
            values.append(decode_static_word(abi_type, data[index * WORD:(index + 1) * WORD]))
        except (KeyError, ValueError):
            return None
    return tuple(values)


def decode_static_arrays(abi_types: Sequence[str], data: bytes) -> tuple[Any, ...] | None:
    """`eth_abi.decode(abi_types, data)` for dynamic arrays of static words (not `address`) laid
    out canonically, as the encoders write the batch functions' calldata: each array right after
    the previous one, nothing after the last; None otherwise (eth_abi then decides)."""
    if not abi_types or not all(abi_type.endswith("[]") for abi_type in abi_types):
        return None
    expected = WORD * len(abi_types)
    if len(data) < expected:
        return None
    values: list[tuple[Any, ...]] = []
    for index, abi_type in enumerate(abi_types):
        offset = int.from_bytes(data[index * WORD:(index + 1) * WORD], "big")
        if offset != expected or offset + WORD > len(data):
            return None
        length = int.from_bytes(data[offset:offset + WORD], "big")
        end = offset + WORD + WORD * length
        if end > len(data):
            return None
        element = abi_type[:-2]
        if element == "bytes32":
            values.append(tuple(data[start:start + WORD]
                                for start in range(offset + WORD, end, WORD)))
        else:
            decoded = decode_static_words([element] * length, data[offset + WORD:end])
            if decoded is None:
                return None
            values.append(decoded)
        expected = end
    if expected != len(data):
        return None
    return tuple(values)

