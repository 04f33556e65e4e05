"""Merkle roots and inclusion proofs (transactions, receipts, audit anchors)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.crypto import keccak
from chain.merkle import (
    EMPTY_ROOT,
    hash_leaf,
    hash_pair,
    merkle_proof,
    merkle_root,
    verify_merkle_proof,
)

leaf_sets = st.lists(st.binary(max_size=48), min_size=1, max_size=40)


def test_small_trees_by_hand() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_root([]) == EMPTY_ROOT == keccak(b"")
    assert merkle_root([a]) == hash_leaf(a) == keccak(b"\x00a")
    assert merkle_root([a, b]) == hash_pair(hash_leaf(a), hash_leaf(b))
    assert merkle_root([a, b, c]) == hash_pair(hash_pair(hash_leaf(a), hash_leaf(b)),
                                               hash_leaf(c))


def test_a_leaf_cannot_pose_as_an_inner_node() -> None:
    a, b = b"a", b"b"
    assert merkle_root([hash_leaf(a) + hash_leaf(b)]) != merkle_root([a, b])
    assert merkle_root([b"\x01" + hash_leaf(a) + hash_leaf(b)]) != merkle_root([a, b])


@given(leaves=leaf_sets)
def test_every_leaf_proves_its_inclusion(leaves: list[bytes]) -> None:
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = merkle_proof(leaves, index)
        assert (proof.index, proof.leaf_count) == (index, len(leaves))
        assert len(proof.path) <= max(1, (len(leaves) - 1).bit_length())
        assert verify_merkle_proof(leaf, proof, root)


@given(leaves=leaf_sets, data=st.data())
def test_tampered_proofs_fail(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    leaf = leaves[index]
    proof = merkle_proof(leaves, index)
    other_leaf = data.draw(st.binary(max_size=48).filter(lambda candidate: candidate != leaf))
    assert not verify_merkle_proof(other_leaf, proof, root)
    assert not verify_merkle_proof(leaf, proof, keccak(root))
    if proof.path:
        step = data.draw(st.integers(0, len(proof.path) - 1))
        sibling, is_left = proof.path[step]
        flipped_byte = bytes([sibling[0] ^ 1]) + sibling[1:]
        tamperings = [(flipped_byte, is_left)]
        if sibling != _node_at(leaves, index, step):  # swapping two equal nodes changes nothing
            tamperings.append((sibling, not is_left))
        for tampered in tamperings:
            path = (*proof.path[:step], tampered, *proof.path[step + 1:])
            assert not verify_merkle_proof(leaf, replace(proof, path=path), root)
        assert not verify_merkle_proof(leaf, replace(proof, path=proof.path[:-1]), root)


def _node_at(leaves: list[bytes], index: int, step: int) -> bytes:
    """The hash on the proof's own path just before `step` is applied."""
    proof = merkle_proof(leaves, index)
    node = hash_leaf(leaves[index])
    for sibling, sibling_is_left in proof.path[:step]:
        node = hash_pair(sibling, node) if sibling_is_left else hash_pair(node, sibling)
    return node


@given(leaves=st.lists(st.binary(max_size=8), min_size=2, max_size=20, unique=True),
       data=st.data())
def test_a_proof_does_not_transfer_to_another_leaf(leaves: list[bytes],
                                                   data: st.DataObject) -> None:
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index))
    assert not verify_merkle_proof(leaves[other], merkle_proof(leaves, index), root)


def test_root_depends_on_order_and_count() -> None:
    assert merkle_root([b"a", b"b"]) != merkle_root([b"b", b"a"])
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


@pytest.mark.parametrize("index", [-1, 3])
def test_proof_index_out_of_range(index: int) -> None:
    with pytest.raises(IndexError):
        merkle_proof([b"a", b"b", b"c"], index)
