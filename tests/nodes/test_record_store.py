"""The RecordStore contract on MemoryRecordStore and LmdbRecordStore, and LMDB persistence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.crypto import keccak
from chain.errors import MalformedInput, OversizedInput
from chain.records import MAX_PAYLOAD_BYTES
from nodes.storage.blocks import DataDirectoryLocked
from nodes.storage.records import LmdbRecordStore, MemoryRecordStore, RecordStore

PAYLOAD = b'{"enterprise":"91310115000010014X","fields":{"grade":"A"},"kind":"tax","period":"2024"}'


@pytest.fixture(params=["memory", "lmdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """Each contract test runs on both record stores."""
    if request.param == "memory":
        yield MemoryRecordStore()
        return
    with LmdbRecordStore(tmp_path / "records") as lmdb_store:
        yield lmdb_store


def test_a_payload_round_trips_under_its_hash(store: RecordStore) -> None:
    digest = keccak(PAYLOAD)
    assert not store.has_payload(digest)
    assert store.load_payload(digest) is None
    store.save_payload(digest, PAYLOAD)
    store.save_payload(digest, PAYLOAD)  # saving again is harmless
    assert store.has_payload(digest)
    assert store.load_payload(digest) == PAYLOAD


def test_several_payloads_load_in_one_read(store: RecordStore) -> None:
    first, second = b'{"a":1}', b'{"b":2}'
    store.save_payload(keccak(first), first)
    store.save_payload(keccak(second), second)
    assert store.load_payloads([keccak(second), keccak(b"absent"), keccak(first), b""]) == [
        second, None, first, None]


def test_an_empty_payload_is_a_payload(store: RecordStore) -> None:
    store.save_payload(keccak(b""), b"")
    assert store.has_payload(keccak(b""))
    assert store.load_payload(keccak(b"")) == b""


def test_a_payload_under_another_hash_is_refused(store: RecordStore) -> None:
    wrong = keccak(PAYLOAD + b" ")
    with pytest.raises(MalformedInput, match="hashes to") as refused:
        store.save_payload(wrong, PAYLOAD)
    assert refused.value.field == "payload"
    assert not store.has_payload(wrong)
    assert store.load_payload(wrong) is None


def test_a_hash_of_the_wrong_length_is_refused(store: RecordStore) -> None:
    with pytest.raises(MalformedInput, match="32") as refused:
        store.save_payload(keccak(PAYLOAD)[:31], PAYLOAD)
    assert refused.value.field == "payload_hash"


def test_an_oversized_payload_is_refused(store: RecordStore) -> None:
    payload = b"x" * (MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(OversizedInput):
        store.save_payload(keccak(payload), payload)
    assert not store.has_payload(keccak(payload))


def test_lmdb_payloads_survive_a_restart(tmp_path: Path) -> None:
    payloads = [PAYLOAD + bytes([i]) for i in range(50)]
    with LmdbRecordStore(tmp_path / "records") as store:
        for payload in payloads:
            store.save_payload(keccak(payload), payload)
    with LmdbRecordStore(tmp_path / "records") as reopened:
        assert all(reopened.load_payload(keccak(payload)) == payload for payload in payloads)
        assert not reopened.has_payload(keccak(b"never saved"))


def test_lmdb_payloads_grow_a_small_map(tmp_path: Path) -> None:
    payloads = [bytes([i]) * MAX_PAYLOAD_BYTES for i in range(8)]
    with LmdbRecordStore(tmp_path / "records", map_size_bytes=64 * 1024) as store:
        for payload in payloads:
            store.save_payload(keccak(payload), payload)
        assert all(store.load_payload(keccak(payload)) == payload for payload in payloads)


def test_one_owner_per_record_directory(tmp_path: Path) -> None:
    with LmdbRecordStore(tmp_path / "records"), pytest.raises(DataDirectoryLocked):
        LmdbRecordStore(tmp_path / "records")
