"""ABI decoding of dynamic calldata, remembered for the calldata a node saw last.

A node decodes a batch transaction's calldata when it admits the transaction (its arguments are
checked before it is gossiped) and again when it executes the block that holds it; the second
decoding is the same work on the same bytes (about 100 µs for a batch of 64 records). The
decoded arguments of the last `CAPACITY` calldata are kept, so execution takes them from
admission. eth_abi's results are immutable (tuples, bytes, str, int), so sharing them is safe;
calldata that does not decode is not remembered (it raises every time). The batch functions'
calldata (dynamic arrays of static words, laid out canonically) is decoded by hand
(`contracts.words.decode_static_arrays`), anything else by eth_abi.
"""

from __future__ import annotations

import contextlib
from typing import Any

from eth_abi.abi import decode

from contracts.words import decode_static_arrays

CAPACITY = 1024  # a block holds at most about 110 batches; a few blocks' worth

_decoded: dict[tuple[tuple[str, ...], bytes], tuple[Any, ...]] = {}


def decode_remembered(types: tuple[str, ...], data: bytes) -> tuple[Any, ...]:
    """`eth_abi.decode(types, data)` as a tuple, from memory when these bytes were decoded
    lately; raises what eth_abi raises."""
    key = (types, data)
    found = _decoded.get(key)
    if found is not None:
        return found
    result = decode_static_arrays(types, data)  # the batches' canonical calldata, by hand
    if result is None:
        result = tuple(decode(list(types), data))
    _decoded[key] = result
    if len(_decoded) > CAPACITY:  # oldest first (insertion order)
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # evicted already
            del _decoded[next(iter(_decoded))]
    return result
