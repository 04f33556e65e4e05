"""Binary Merkle trees over keccak: transaction and receipt roots, audit-log anchors.

Leaves are hashed with a 0x00 prefix and inner nodes with 0x01 (no second-preimage confusion
between a leaf and a node). An odd node at a level is carried up unchanged. The root of no
leaves is keccak of the empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.crypto import keccak

EMPTY_ROOT = keccak(b"")


def hash_leaf(leaf: bytes) -> bytes:
    """The level-0 hash of a leaf."""
    return keccak(b"\x00" + leaf)


def hash_pair(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node."""
    return keccak(b"\x01" + left + right)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over `leaves` in order."""
    if not leaves:
        return EMPTY_ROOT
    level = [hash_leaf(leaf) for leaf in leaves]
    while len(level) > 1:
        level = [
            hash_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """The path from leaf `index` of `leaf_count` leaves to the root: (sibling, is_left)."""

    index: int
    leaf_count: int
    path: tuple[tuple[bytes, bool], ...]


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """An inclusion proof for leaf `index`."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside 0..{len(leaves) - 1}")
    level = [hash_leaf(leaf) for leaf in leaves]
    position = index
    path: list[tuple[bytes, bool]] = []
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append((level[sibling], sibling < position))
        level = [
            hash_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        position //= 2
    return MerkleProof(index=index, leaf_count=len(leaves), path=tuple(path))


def verify_merkle_proof(leaf: bytes, proof: MerkleProof, root: bytes) -> bool:
    """Whether `leaf` sits at the proof's index under `root`."""
    node = hash_leaf(leaf)
    for sibling, sibling_is_left in proof.path:
        node = hash_pair(sibling, node) if sibling_is_left else hash_pair(node, sibling)
    return node == root
