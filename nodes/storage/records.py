"""The off-chain record store: credit record payloads, keyed by their keccak-256 hash.

Only a record's hash goes on chain; the payload stays at the nodes of the city that published
it (ARCHITECTURE.md, "The data path of one record"). A payload is stored under its own hash, and
the store refuses a payload whose hash is not the key, so whatever it returns matches the
on-chain hash it was asked for.

`RecordStore` is the port; `MemoryRecordStore` is its in-memory twin for tests and the
simulator; `LmdbRecordStore` keeps payloads durably in its own LMDB environment (its own data
directory, with its own single-owner `LOCK`, apart from the block store's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

import lmdb

from chain.crypto import keccak
from chain.errors import MalformedInput, OversizedInput
from chain.records import MAX_PAYLOAD_BYTES
from nodes.storage.blocks import LmdbEnvironment

PAYLOAD_HASH_BYTES = 32  # keccak-256
DEFAULT_RECORD_MAP_SIZE_BYTES = 1 << 30  # 1 GiB of address space; grows on demand
PAYLOADS_DB = b"payloads"
RECORD_STORE_DATABASES = (PAYLOADS_DB,)


class RecordStore(Protocol):
    """Record payloads by their keccak-256 hash."""

    def save_payload(self, payload_hash: bytes, payload: bytes) -> None:
        """Store a payload under its hash; MalformedInput if the hash is not keccak(payload)."""

    def load_payload(self, payload_hash: bytes) -> bytes | None:
        """The payload with this hash, or None."""

    def load_payloads(self, payload_hashes: list[bytes]) -> list[bytes | None]:
        """The payloads with these hashes (None where absent), in one read."""

    def has_payload(self, payload_hash: bytes) -> bool:
        """Whether the payload with this hash is held here."""


def check_payload(payload_hash: bytes, payload: bytes) -> None:
    """Refuse a payload that is too large or does not hash to `payload_hash`."""
    if len(payload_hash) != PAYLOAD_HASH_BYTES:
        raise MalformedInput(f"payload hash is {len(payload_hash)} bytes, expected "
                             f"{PAYLOAD_HASH_BYTES}", field="payload_hash")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise OversizedInput(f"record payload is {len(payload)} bytes; at most "
                             f"{MAX_PAYLOAD_BYTES} are accepted", field="payload")
    actual = keccak(payload)
    if actual != payload_hash:
        raise MalformedInput(f"payload hashes to 0x{actual.hex()}, expected "
                             f"0x{payload_hash.hex()}", field="payload")


class MemoryRecordStore:
    """The in-memory twin of `LmdbRecordStore`."""

    def __init__(self) -> None:
        self.payloads: dict[bytes, bytes] = {}

    def save_payload(self, payload_hash: bytes, payload: bytes) -> None:
        """Store a payload under its checked hash."""
        check_payload(payload_hash, payload)
        self.payloads[payload_hash] = payload

    def load_payload(self, payload_hash: bytes) -> bytes | None:
        """The payload with this hash, or None."""
        return self.payloads.get(payload_hash)

    def load_payloads(self, payload_hashes: list[bytes]) -> list[bytes | None]:
        """The payloads with these hashes (None where absent)."""
        return [self.payloads.get(payload_hash) for payload_hash in payload_hashes]

    def has_payload(self, payload_hash: bytes) -> bool:
        """Whether the payload is held."""
        return payload_hash in self.payloads


class LmdbRecordStore:
    """Record payloads in an LMDB environment of their own; each save is durable on return."""

    def __init__(self, path: Path, map_size_bytes: int = DEFAULT_RECORD_MAP_SIZE_BYTES,
                 read_only: bool = False, durable: bool = True) -> None:
        self.path = Path(path)
        self._lmdb = LmdbEnvironment(self.path, RECORD_STORE_DATABASES, map_size_bytes,
                                     read_only, durable)
        self._payloads = self._lmdb.database(PAYLOADS_DB)

    def save_payload(self, payload_hash: bytes, payload: bytes) -> None:
        """Store a payload under its checked hash (saving it again changes nothing)."""
        check_payload(payload_hash, payload)
        payloads = self._payloads
        self._lmdb.write(lambda transaction: transaction.put(payload_hash, payload, db=payloads))

    def save_payloads(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Store several (hash, payload) pairs, each checked, in one durable transaction."""
        for payload_hash, payload in items:
            check_payload(payload_hash, payload)
        payloads = self._payloads

        def put_all(transaction: lmdb.Transaction) -> None:
            for payload_hash, payload in items:
                transaction.put(payload_hash, payload, db=payloads)

        self._lmdb.write(put_all)

    def load_payload(self, payload_hash: bytes) -> bytes | None:
        """The payload with this hash, or None."""
        return self._lmdb.get(PAYLOADS_DB, payload_hash)

    def load_payloads(self, payload_hashes: list[bytes]) -> list[bytes | None]:
        """The payloads with these hashes (None where absent), in one read transaction."""
        return self._lmdb.get_many(PAYLOADS_DB, payload_hashes)

    def has_payload(self, payload_hash: bytes) -> bool:
        """Whether the payload is held."""
        return self.load_payload(payload_hash) is not None

    def close(self) -> None:
        """Close the environment and release the directory (idempotent)."""
        self._lmdb.close()

    def __enter__(self) -> LmdbRecordStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
