"""LtHash of the table state (chain/engine/set_hash.py): homomorphic, order-free, per change."""

from __future__ import annotations

import random

from chain.engine import set_hash as lthash

ROWS = [(b"k%03d" % index, b"row %d" % index) for index in range(300)]


def test_the_set_hash_of_rows_does_not_depend_on_their_order() -> None:
    shuffled = list(ROWS)
    random.Random(7).shuffle(shuffled)
    assert lthash.set_hash_of(ROWS) == lthash.set_hash_of(shuffled)
    assert len(lthash.set_hash_of(ROWS)) == lthash.VECTOR_BYTES


def test_updates_per_change_equal_the_hash_from_scratch() -> None:
    before = dict(ROWS)
    changes: dict[bytes, bytes | None] = {b"k001": None, b"k002": b"changed", b"new": b"added"}
    after = {key: row for key, row in {**before, **changes}.items() if row is not None}
    updated = lthash.updated(lthash.set_hash_of(ROWS), changes,
                             {key: before.get(key) for key in changes})
    assert updated == lthash.set_hash_of(after.items())


def test_adding_and_removing_every_row_gives_back_the_empty_hash() -> None:
    full = lthash.updated(lthash.empty(), dict(ROWS), {})
    assert full == lthash.set_hash_of(ROWS)
    assert lthash.updated(full, dict.fromkeys(dict(ROWS)), dict(ROWS)) == lthash.empty()


def test_one_changed_byte_or_a_moved_value_changes_the_hash() -> None:
    reference = lthash.set_hash_of(ROWS)
    edited = [(key, row + b"!") if key == b"k150" else (key, row) for key, row in ROWS]
    assert lthash.set_hash_of(edited) != reference
    # the same bytes split differently between key and row are another row
    assert lthash.row_vector(b"ab", b"c") != lthash.row_vector(b"a", b"bc")
    assert lthash.digest(reference) != lthash.digest(lthash.set_hash_of(edited))
    assert lthash.set_hash_of(ROWS[1:], lthash.set_hash_of(ROWS[:1])) == reference
