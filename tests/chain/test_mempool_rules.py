"""The mempool: bounds, per-sender bounds, nonce-ordered selection, eviction after commit."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.crypto import PrivateKey, derive_private_key
from chain.errors import DuplicateTransaction, MempoolFull, NonceGap
from chain.mempool import GAPPED_EXPIRY_MS, MEMPOOL_GAPPED_PER_SENDER, Mempool
from chain.transactions import AdmittedTransaction, SenderCache, decode_transaction
from chain.wallet import sign_legacy

CHAIN_ID = 7304
TARGET = b"\x11" * 20
ALICE = derive_private_key(b"alice")
BOB = derive_private_key(b"bob")
CAROL = derive_private_key(b"carol")
_CACHE = SenderCache()


def pending(key: PrivateKey, nonce: int, salt: int = 0) -> AdmittedTransaction:
    raw = sign_legacy(key, CHAIN_ID, nonce, TARGET, b"\x01\x02\x03\x04" + bytes([salt]))
    return _CACHE.admit(decode_transaction(raw, CHAIN_ID))


def committed(nonces: dict[bytes, int]):
    return lambda sender: nonces.get(sender, 0)


def nonces_of(chosen: list[AdmittedTransaction]) -> list[tuple[bytes, int]]:
    return [(a.sender, a.nonce) for a in chosen]


def test_selection_follows_nonce_order_per_sender() -> None:
    pool = Mempool()
    for nonce in (2, 0, 1):
        pool.add(pending(ALICE, nonce))
    assert nonces_of(pool.select(committed({}), 10)) == [(ALICE.address, n) for n in (0, 1, 2)]


def test_selection_stops_at_a_gap_and_starts_at_the_committed_nonce() -> None:
    pool = Mempool()
    for nonce in (0, 1, 3):
        pool.add(pending(ALICE, nonce))
    assert nonces_of(pool.select(committed({}), 10)) == [(ALICE.address, 0), (ALICE.address, 1)]
    assert nonces_of(pool.select(committed({ALICE.address: 1}), 10)) == [(ALICE.address, 1)]
    assert pool.select(committed({ALICE.address: 2}), 10) == []
    assert pool.pending_nonce(ALICE.address, 0) == 2
    assert pool.pending_nonce(ALICE.address, 3) == 4
    assert pool.pending_nonce(BOB.address, 5) == 5


def test_selection_serves_senders_in_arrival_order_within_the_limit() -> None:
    pool = Mempool()
    pool.add(pending(BOB, 0))
    pool.add(pending(ALICE, 0))
    pool.add(pending(BOB, 1))
    pool.add(pending(CAROL, 0))
    assert nonces_of(pool.select(committed({}), 10)) == [
        (BOB.address, 0), (BOB.address, 1), (ALICE.address, 0), (CAROL.address, 0)]
    assert nonces_of(pool.select(committed({}), 1)) == [(BOB.address, 0)]
    assert nonces_of(pool.select(committed({}), 3)) == [
        (BOB.address, 0), (BOB.address, 1), (ALICE.address, 0)]
    assert pool.select(committed({}), 0) == []


def test_duplicates_are_refused() -> None:
    pool = Mempool()
    first = pending(ALICE, 0)
    pool.add(first)
    with pytest.raises(DuplicateTransaction, match="already pending"):
        pool.add(first)
    with pytest.raises(DuplicateTransaction, match="nonce 0"):
        pool.add(pending(ALICE, 0, salt=1))
    assert len(pool) == 1 and first.hash in pool


def test_capacity_bound() -> None:
    pool = Mempool(capacity=3, per_sender=10)
    for nonce in range(3):
        pool.add(pending(ALICE, nonce))
    with pytest.raises(MempoolFull, match="holds 3 transactions") as caught:
        pool.add(pending(BOB, 0))
    assert caught.value.http_status == 503
    assert len(pool) == 3
    assert BOB.address not in pool.by_sender and BOB.address not in pool.arrival
    assert nonces_of(pool.select(committed({}), 10)) == [(ALICE.address, n) for n in range(3)]


def test_per_sender_bound() -> None:
    pool = Mempool(capacity=100, per_sender=2)
    pool.add(pending(ALICE, 0))
    pool.add(pending(ALICE, 1))
    with pytest.raises(MempoolFull, match="2 from this sender"):
        pool.add(pending(ALICE, 2))
    pool.add(pending(BOB, 0))
    assert len(pool) == 3


def test_remove_committed_evicts_used_nonces_only() -> None:
    pool = Mempool()
    for nonce in range(4):
        pool.add(pending(ALICE, nonce))
    pool.add(pending(BOB, 0))
    pool.add(pending(CAROL, 0))
    assert pool.remove_committed({ALICE.address: 2, BOB.address: 1, b"\0" * 20: 9}) == 3
    assert len(pool) == 3
    assert sorted(pool.by_sender[ALICE.address]) == [2, 3]
    assert BOB.address not in pool.by_sender and BOB.address not in pool.arrival
    assert pool.remove_committed({ALICE.address: 2}) == 0
    pool.add(pending(BOB, 1))  # Bob comes back: behind Alice and Carol now
    chosen = pool.select(committed({ALICE.address: 2, BOB.address: 1}), 10)
    assert nonces_of(chosen) == [(ALICE.address, 2), (ALICE.address, 3), (CAROL.address, 0),
                                 (BOB.address, 1)]


# Hygiene: gapped transactions are limited, expire, are not work, and cannot wedge an account.


def test_a_sender_parks_only_a_bounded_number_of_gapped_transactions() -> None:
    pool = Mempool(gapped_per_sender=4)
    for nonce in range(5, 9):
        pool.add(pending(ALICE, nonce), committed({}))
    with pytest.raises(NonceGap, match="behind a nonce gap"):
        pool.add(pending(ALICE, 9), committed({}))
    pool.add(pending(BOB, 3), committed({}))  # another sender's budget is its own
    assert len(pool) == 5


def test_gapped_transactions_are_not_work_for_a_block() -> None:
    pool = Mempool()
    for nonce in (2, 3, 7):
        pool.add(pending(ALICE, nonce), committed({}))
    assert pool.ready_count(committed({}), 1_000) == 0
    pool.add(pending(ALICE, 0), committed({}))
    assert pool.ready_count(committed({}), 1_000) == 1
    pool.add(pending(ALICE, 1), committed({}))
    assert pool.ready_count(committed({}), 1_000) == 4  # 0..3; 7 still waits
    assert pool.ready_count(committed({}), 2) == 2


def test_gapped_transactions_expire_in_chain_time_but_a_run_does_not() -> None:
    pool = Mempool()
    pool.add(pending(ALICE, 0), committed({}), chain_time_ms=1_000)
    pool.add(pending(ALICE, 5), committed({}), chain_time_ms=1_000)
    assert pool.expire_gapped(committed({}), 1_000 + GAPPED_EXPIRY_MS) == 0
    assert pool.expire_gapped(committed({}), 1_001 + GAPPED_EXPIRY_MS) == 1
    assert nonces_of(list(pool.by_hash.values())) == [(ALICE.address, 0)]


def test_a_thousand_gapped_transactions_cannot_wedge_an_account() -> None:
    pool = Mempool(per_sender=1_024)
    refused = 0
    for nonce in range(1, 1_025):
        try:
            pool.add(pending(ALICE, nonce), committed({}))
        except NonceGap:
            refused += 1
    assert refused == 1_024 - MEMPOOL_GAPPED_PER_SENDER
    pool.add(pending(ALICE, 0), committed({}))  # the gap filler is always taken
    assert nonces_of(pool.select(committed({}), 1_000))[:3] == [
        (ALICE.address, 0), (ALICE.address, 1), (ALICE.address, 2)]


def test_a_run_extension_evicts_the_senders_furthest_gapped_transaction_when_full() -> None:
    pool = Mempool(per_sender=4, gapped_per_sender=4)
    for nonce in (0, 1, 5, 6):
        pool.add(pending(ALICE, nonce), committed({}))
    pool.add(pending(ALICE, 2), committed({}))
    assert sorted(pool.by_sender[ALICE.address]) == [0, 1, 2, 5]


def test_a_full_pool_makes_room_for_a_run_by_dropping_someone_elses_gapped_one() -> None:
    pool = Mempool(capacity=3)
    pool.add(pending(BOB, 4), committed({}))
    pool.add(pending(ALICE, 0), committed({}))
    pool.add(pending(ALICE, 1), committed({}))
    pool.add(pending(CAROL, 0), committed({}))
    assert BOB.address not in pool.by_sender and len(pool) == 3
    with pytest.raises(MempoolFull):
        pool.add(pending(BOB, 0), committed({}))  # nothing gapped is left to drop


# The remembered nonce runs answer like a walk over the queue, whatever the order of changes.

_SIGNED: dict[tuple[int, int], AdmittedTransaction] = {}


def _signed(sender: int, nonce: int) -> AdmittedTransaction:
    if (sender, nonce) not in _SIGNED:
        _SIGNED[sender, nonce] = pending((ALICE, BOB)[sender], nonce)
    return _SIGNED[sender, nonce]


def _walked_run_end(pool: Mempool, sender: bytes, committed_nonce: int) -> int:
    nonce = committed_nonce
    while nonce in pool.by_sender.get(sender, {}):
        nonce += 1
    return nonce


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("add", "commit", "expire")), st.integers(0, 1),
                          st.integers(0, 11)), max_size=40))
def test_remembered_runs_agree_with_walking_the_queue(steps: list[tuple[str, int, int]]) -> None:
    pool = Mempool(per_sender=8, gapped_per_sender=3)
    senders = (ALICE.address, BOB.address)
    nonces = {sender: 0 for sender in senders}
    for operation, who, nonce in steps:
        sender = senders[who]
        if operation == "add" and nonce >= nonces[sender]:
            with contextlib.suppress(DuplicateTransaction, MempoolFull, NonceGap):
                pool.add(_signed(who, nonce), committed(nonces))
        elif operation == "commit":  # a block used some of the sender's run
            run_end = pool.pending_nonce(sender, nonces[sender])
            nonces[sender] = max(nonces[sender], min(nonce, run_end))
            pool.remove_committed({sender: nonces[sender]})
        elif operation == "expire":
            pool.expire_gapped(committed(nonces), GAPPED_EXPIRY_MS + 1)
        for other in senders:
            for start in range(nonces[other], 13):
                assert pool.pending_nonce(other, start) == _walked_run_end(pool, other, start)
        walked = sum(_walked_run_end(pool, s, nonces[s]) - nonces[s] for s in senders)
        assert pool.ready_count(committed(nonces), 1_000) == walked
        assert pool.ready_count(committed(nonces), 3) == min(walked, 3)
