"""Static ABI words by hand (contracts/words.py) agree with eth_abi, their reference: equal bytes
and values on the fast path, None (so the caller asks eth_abi) off it."""

from __future__ import annotations

import random

from eth_abi import decode, encode

from contracts.words import (
    decode_static_arrays,
    decode_static_words,
    encode_static_arrays,
    encode_static_words,
)

TYPES = ("bytes32", "address", "bool", "uint8", "uint64", "uint256")


def _value(draw: random.Random, abi_type: str) -> object:
    if abi_type == "bytes32":
        return draw.choice([draw.randbytes(32), draw.randbytes(31), bytearray(32)])
    if abi_type == "address":
        return draw.choice([draw.randbytes(20), draw.randbytes(19)])
    if abi_type == "bool":
        return draw.choice([True, False, 1])
    bits = int(abi_type[4:])
    return draw.choice([draw.randrange(1 << bits), (1 << bits) - 1, 1 << bits, -1, True, 0])


def test_encoding_equals_eth_abi_or_leaves_it_to_eth_abi() -> None:
    draw = random.Random(7)
    fast_paths = 0
    for _ in range(3_000):
        types = [draw.choice(TYPES) for _ in range(draw.randrange(1, 6))]
        values = [_value(draw, abi_type) for abi_type in types]
        words = encode_static_words(types, values)
        if words is None:
            continue
        fast_paths += 1
        assert words == encode(types, values), (types, values)
    assert fast_paths > 500


def test_arrays_of_static_words_encode_as_eth_abi_or_are_left_to_it() -> None:
    draw = random.Random(11)
    fast_paths = 0
    for _ in range(1_000):
        types = [draw.choice(TYPES) + "[]" for _ in range(draw.randrange(1, 8))]
        values = [[_value(draw, abi_type[:-2]) for _ in range(draw.choice([0, 1, 3, 64]))]
                  for abi_type in types]
        if draw.random() < 0.5:  # the batch functions' arguments: valid words only
            values = [[item for item in array if encode_static_words([abi_type[:-2]], [item])]
                      for abi_type, array in zip(types, values, strict=True)]
        words = encode_static_arrays(types, values)
        if words is None:
            continue
        fast_paths += 1
        assert words == encode(types, values), (types, values)
    assert fast_paths > 300
    assert encode_static_arrays(["bytes32"], [b"x" * 32]) is None  # not an array type


def test_decoding_equals_eth_abi_or_leaves_it_to_eth_abi() -> None:
    draw = random.Random(11)
    fast_paths = 0
    for _ in range(3_000):
        types = [draw.choice(TYPES) for _ in range(draw.randrange(1, 6))]
        data = draw.choice([draw.randbytes(32 * len(types)),  # dirty padding, mostly
                            encode(types, [_clean(draw, t) for t in types])])
        values = decode_static_words(types, data)
        if values is None:
            continue
        fast_paths += 1
        assert values == tuple(decode(types, data)), (types, data.hex())
    assert fast_paths > 300


def _clean(draw: random.Random, abi_type: str) -> object:
    if abi_type == "bytes32":
        return draw.randbytes(32)
    if abi_type == "address":
        return draw.randbytes(20)
    if abi_type == "bool":
        return draw.choice([True, False])
    return draw.randrange(1 << int(abi_type[4:]))


def test_off_the_fast_path() -> None:
    assert encode_static_words(["string"], ["a"]) is None
    assert encode_static_words(["uint8"], [256]) is None
    assert encode_static_words(["uint256"], [True]) is None
    assert encode_static_words(["uint8", "uint8"], [1]) is None
    assert decode_static_words(["address"], bytes(32)) is None  # eth_abi answers text
    assert decode_static_words(["uint8"], (256).to_bytes(32, "big")) is None
    assert decode_static_words(["uint256"], bytes(33)) is None


def test_canonical_arrays_of_static_words_decode_as_eth_abi_or_are_left_to_it() -> None:
    draw = random.Random(13)
    fast_paths = 0
    for _ in range(1_000):
        types = [draw.choice(("bytes32", "bool", "uint8", "uint256")) + "[]"
                 for _ in range(draw.randrange(1, 8))]
        values = [[item for item in (_value(draw, abi_type[:-2]) for _ in range(3))
                   if encode_static_words([abi_type[:-2]], [item])] for abi_type in types]
        data = bytearray(encode(types, values))
        if draw.random() < 0.5 and data:  # a flipped byte, a cut or an extra word
            mutation = draw.randrange(3)
            if mutation == 0:
                data[draw.randrange(len(data))] ^= 1 << draw.randrange(8)
            elif mutation == 1:
                del data[draw.randrange(len(data)):]
            else:
                data += bytes(32)
        decoded = decode_static_arrays(types, bytes(data))
        if decoded is None:
            continue
        fast_paths += 1
        assert decoded == decode(types, bytes(data)), (types, bytes(data).hex())
    assert fast_paths > 400
    assert decode_static_arrays(["address[]"], encode(["address[]"], [[b"\1" * 20]])) is None
