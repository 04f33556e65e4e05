"""Node-local values outside the chain, each write one append and one fsync.

The validator persists its consensus state (what it voted for, the value it locked) before every
vote it sends, two or three times per height. In an LMDB write transaction that costs two
fsyncs (data pages, then the meta page: about 9 ms on this machine's disk) during which the
node's event loop does nothing else; appended to a journal of its own (`nodes.storage.journal`)
it costs one (about 3 ms), with the same guarantee: the value is on disk before `save`
returns, so a vote is never sent that a crash could make the node forget.

`MetaValues` keeps the latest value of each key in memory, replays the journal when the store
opens (a torn tail is cut: its write never returned), and compacts the file to one record per
key after `COMPACT_AFTER_RECORDS` writes. A store written before the journal existed kept these
values in its LMDB `meta` table: `fallback` reads it for keys the journal does not hold yet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nodes.storage.journal import Journal

COMPACT_AFTER_RECORDS = 4_096
FILE_NAME = "meta.journal"


def encode_value(key: bytes, value: bytes) -> bytes:
    """One journal record: key length (2 bytes), key, value."""
    return len(key).to_bytes(2, "big") + key + value


def decode_value(record: bytes) -> tuple[bytes, bytes]:
    """Inverse of `encode_value`; ValueError if the record is too short for its key."""
    length = int.from_bytes(record[:2], "big")
    if len(record) < 2 + length:
        raise ValueError("a meta record shorter than its key")
    return record[2:2 + length], record[2 + length:]


class MetaValues:
    """Durable node-local values by key, journaled (see the module docstring)."""

    def __init__(self, path: Path, fallback: Callable[[bytes], bytes | None]) -> None:
        self.journal = Journal(path)
        self.fallback = fallback
        self.values: dict[bytes, bytes] = {}
        records = self.journal.replay()
        for record in records:
            key, value = decode_value(record)
            self.values[key] = value
        self.records = len(records)

    def load(self, key: bytes) -> bytes | None:
        """The latest value saved under `key` (or the older store's), None if never saved."""
        value = self.values.get(key)
        return value if value is not None else self.fallback(key)

    def save(self, key: bytes, value: bytes) -> None:
        """Save `value` under `key`; on disk (fsynced) when this returns."""
        self.journal.append(encode_value(key, value))
        self.journal.sync()
        self.values[key] = value
        self.records += 1
        if self.records > COMPACT_AFTER_RECORDS:
            self.journal.rewrite(encode_value(k, v) for k, v in self.values.items())
            self.records = len(self.values)

    def close(self) -> None:
        """Close the journal (idempotent)."""
        self.journal.close()
