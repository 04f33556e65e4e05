"""The set hash of the table state: LtHash, a homomorphic hash of a multiset of rows.

LtHash (Bellare and Micciancio's lattice construction, as deployed in Facebook's and Solana's
state hashes): each row maps to a vector of `LANES` 16-bit lanes, the BLAKE3 extendable output
of the row read to 2,048 bytes (as Solana's lattice hash of accounts does), and the set hash of
a table state is the lane-wise sum of its rows' vectors modulo 2^16. Adding a row adds its
vector, removing one subtracts it, so a block updates the set hash by its changed rows alone,
whatever the table holds; and the sum depends only on which rows exist, so a node recomputing it
from its store when it opens detects a row changed, added or removed behind the ledger's back.

Why not the sum of 256-bit row hashes modulo 2^256 (AdHash): with enough rows to choose from,
Wagner's generalized-birthday algorithm finds a set of rows whose sum matches a target far below
2^128 work; LtHash's 1,024 lanes put that search out of reach (its security reduces to a short
vector problem in a lattice of dimension 1,024).

BLAKE3 rather than SHAKE-256 (the first version): the same 2 KiB output costs 1.3 µs instead of
5.4 µs here, and a block hashes every row it changes, twice when the row existed (its old and its
new value): at bulk-load sizes the vectors were a fifth of a node's work.

The vectors are numpy `uint16` arrays, whose additions wrap modulo 2^16 as the construction
wants; `digest` gives the 32 bytes a state root commits to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt
from blake3 import blake3

from chain.crypto import keccak

LANES = 1_024
VECTOR_BYTES = 2 * LANES
ROWS_PER_BATCH = 4_096  # rows hashed into one array before they are summed

Vector = npt.NDArray[np.uint16]


def empty() -> bytes:
    """The set hash of no rows."""
    return bytes(VECTOR_BYTES)


def row_vector(key: bytes, row: bytes) -> bytes:
    """One row's vector (the key's length first, so no two rows share a preimage)."""
    return blake3(len(key).to_bytes(2, "big") + key + row).digest(VECTOR_BYTES)


def _sum(vectors: list[bytes]) -> Vector:
    if not vectors:
        return np.zeros(LANES, dtype=np.uint16)
    stacked = np.frombuffer(b"".join(vectors), dtype="<u2").reshape(len(vectors), LANES)
    total: Vector = stacked.sum(axis=0, dtype=np.uint16)
    return total


def set_hash_of(rows: Iterable[tuple[bytes, bytes]], start: bytes | None = None) -> bytes:
    """The set hash of `rows` (added to `start`, a set hash, when given)."""
    total = (np.frombuffer(start, dtype="<u2").copy() if start is not None
             else np.zeros(LANES, dtype=np.uint16))
    batch: list[bytes] = []
    for key, row in rows:
        batch.append(row_vector(key, row))
        if len(batch) >= ROWS_PER_BATCH:
            total += _sum(batch)
            batch = []
    total += _sum(batch)
    return total.astype("<u2").tobytes()


def updated(set_hash: bytes, changes: Mapping[bytes, bytes | None],
            previous: Mapping[bytes, bytes | None]) -> bytes:
    """The set hash after `changes`, given each changed key's row before the block."""
    removed = [row_vector(key, old) for key in changes
               if (old := previous.get(key)) is not None]
    added = [row_vector(key, row) for key, row in changes.items() if row is not None]
    total = np.frombuffer(set_hash, dtype="<u2").copy()
    total += _sum(added)
    total -= _sum(removed)
    return total.astype("<u2").tobytes()


def digest(set_hash: bytes) -> bytes:
    """The 32 bytes a state root commits to."""
    return keccak(set_hash)
