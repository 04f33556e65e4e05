"""Pushed payloads: stored for a committed record with their hash, held (bounded in count,
bytes and time) until a block refers to them, refused and counted otherwise."""

from __future__ import annotations

import logging

import pytest

from chain.crypto import keccak
from chain.indexer import BlockEvent
from chain.records import MAX_PAYLOAD_BYTES
from contracts import bindings
from nodes.query.payload_intake import (
    HoldLimits,
    PayloadIntake,
    decode_pushed,
    encode_pushed,
)
from nodes.runtime.frames import encode_frames
from nodes.storage.records import MemoryRecordStore

COMMITTED_ID = b"\1" * 32
COMMITTED_PAYLOAD = b'{"committed": true}'


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def intake(limits: HoldLimits) -> tuple[PayloadIntake, MemoryRecordStore, Clock]:
    store, clock = MemoryRecordStore(), Clock()
    committed = {COMMITTED_ID: keccak(COMMITTED_PAYLOAD)}
    return PayloadIntake("nanjing-1", store, committed.get, limits, clock), store, clock


def published(*payloads: bytes) -> list[BlockEvent]:
    return [BlockEvent(0, index, b"\0" * 32, b"\0" * 20, bindings.RecordPublished(
        record_id=bytes([index + 9]) * 32, enterprise=b"\0" * 32, publisher=b"\0" * 20,
        kind=1, payload_hash=keccak(payload), version=1))
            for index, payload in enumerate(payloads)]


def test_a_committed_record_s_payload_is_stored_and_other_bytes_are_refused() -> None:
    node, store, _ = intake(HoldLimits())
    result = node.receive("shanghai-1", [(COMMITTED_ID, COMMITTED_PAYLOAD),
                                         (COMMITTED_ID, b"not its payload")])
    assert (result.stored, result.held, result.refused) == (1, 0, 1)
    assert store.load_payload(keccak(COMMITTED_PAYLOAD)) == COMMITTED_PAYLOAD
    assert store.load_payload(keccak(b"not its payload")) is None
    assert node.refused == 1 and not node.held


def test_held_payloads_are_stored_when_a_block_refers_to_them_and_expire_otherwise() -> None:
    node, store, clock = intake(HoldLimits(hold_s=60.0))
    node.receive("shanghai-1", [(b"\2" * 32, b"soon committed"), (b"\3" * 32, b"never")])
    node.receive("shanghai-1", [(b"\2" * 32, b"soon committed")])  # pushed twice: held once
    assert len(node.held) == 2 and node.held_bytes == len(b"soon committed") + len(b"never")
    assert store.load_payload(keccak(b"soon committed")) is None
    assert node.on_commit(published(b"soon committed")) == 1
    assert store.load_payload(keccak(b"soon committed")) == b"soon committed"
    clock.now += 61.0
    assert node.on_commit(published(b"never")) == 0  # too late: it expired first
    assert store.load_payload(keccak(b"never")) is None
    assert (node.expired, len(node.held), node.held_bytes) == (1, 0, 0)


def test_what_is_held_is_bounded_in_count_and_bytes(caplog: pytest.LogCaptureFixture) -> None:
    node, store, clock = intake(HoldLimits(max_payloads=3, max_bytes=1_000))
    with caplog.at_level(logging.WARNING):
        result = node.receive("hangzhou-1", [(bytes([n]) * 32, f"junk {n}".encode())
                                             for n in range(10)])
        assert (result.held, result.refused) == (3, 7)
        clock.now += 0.1  # within the log interval: counted, not logged again
        assert node.receive("hangzhou-1", [(b"\5" * 32, b"x" * 2_000)]).refused == 1
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines == ["nanjing-1 refused 7 pushed payload(s) from hangzhou-1: the payloads held "
                     "for records not yet committed reached their quota (3 payloads, 1000 bytes)"]
    assert node.refused == 8 and store.payloads == {}
    node, _, _ = intake(HoldLimits(max_payloads=100, max_bytes=10))
    assert node.receive("hangzhou-1", [(b"\4" * 32, b"x" * 11)]).refused == 1
    assert node.receive("hangzhou-1", [(b"\4" * 32, b"x" * (MAX_PAYLOAD_BYTES + 1))]).refused == 1


def test_a_push_is_record_id_and_payload_per_frame() -> None:
    items = [(b"\1" * 32, b"a"), (b"\2" * 32, b"")]
    assert decode_pushed(encode_pushed(items)) == items
    with pytest.raises(ValueError, match="names no record"):
        decode_pushed(encode_frames([b"short"]))
