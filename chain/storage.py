"""The storage port of the ledger and its in-memory twin.

`BlockStore` is what the ledger needs of storage: blocks, receipts, trie nodes, table rows (the
native engine's state, `chain.engine.tables`) and index entries, with one atomic write per
committed block (`save_commit`). The node uses the LMDB implementation in
`nodes/storage/blocks.py`; tests and the simulator use `MemoryBlockStore`. Both keep the same
rule: after a crash, the store holds exactly the blocks whose commit finished, and its head names
the last of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoreCommit:
    """Everything one committed block writes, applied all at once or not at all."""

    height: int
    block_hash: bytes
    block: bytes
    receipts: bytes
    head: bytes
    state_nodes: Mapping[bytes, bytes]
    index: Mapping[bytes, bytes] = field(default_factory=dict)
    rows: Mapping[bytes, bytes | None] = field(default_factory=dict)
    """Table rows to write; None deletes the row."""


class BlockStore(Protocol):
    """Storage of committed blocks, state and indexes."""

    def load_head(self) -> bytes | None:
        """The encoded head, or None for an empty store."""

    def load_block(self, height: int) -> bytes | None:
        """The encoded block at a height."""

    def load_height(self, block_hash: bytes) -> int | None:
        """The height of a committed block hash."""

    def load_receipts(self, height: int) -> bytes | None:
        """The encoded receipts of a block."""

    def load_state_node(self, key: bytes) -> bytes | None:
        """A trie node or contract code by its hash."""

    def load_index(self, key: bytes) -> bytes | None:
        """An index value."""

    def scan_index(self, prefix: bytes, limit: int = 10_000) -> list[tuple[bytes, bytes]]:
        """Index entries whose key starts with `prefix`, in key order."""

    def load_row(self, key: bytes) -> bytes | None:
        """A table row (native engine state)."""

    def scan_rows(self, prefix: bytes, limit: int = 10_000,
                  start: bytes = b"") -> list[tuple[bytes, bytes]]:
        """Table rows whose key starts with `prefix`, in key order, from `start` on."""

    def load_rows(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """Table rows under the given keys, read at one state (None where absent)."""

    def save_commit(self, commit: StoreCommit) -> None:
        """Write a committed block and all it changes atomically."""

    def load_meta(self, key: bytes) -> bytes | None:
        """A node-local value outside the chain (consensus lock, audit log position)."""

    def save_meta(self, key: bytes, value: bytes) -> None:
        """Durably write a node-local value."""


class SortedRows(dict[bytes, bytes]):
    """Table rows that also keep their keys sorted, so a prefix scan is a bisection (the ledger
    scans an enterprise's index rows on every report). Writes through item assignment, `del`
    and `pop` keep the order; tests that tamper with rows use those."""

    def __init__(self) -> None:
        super().__init__()
        self.sorted_keys: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if key not in self:
            bisect.insort(self.sorted_keys, key)
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        del self.sorted_keys[bisect.bisect_left(self.sorted_keys, key)]

    def pop(self, key: bytes, *default: bytes | None) -> bytes | None:  # type: ignore[override]
        """Remove a row and its key (`dict.pop`)."""
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)


class MemoryBlockStore:
    """The in-memory twin of the LMDB store: same contract, nothing on disk."""

    def __init__(self) -> None:
        self.head: bytes | None = None
        self.blocks: dict[int, bytes] = {}
        self.heights: dict[bytes, int] = {}
        self.receipts: dict[int, bytes] = {}
        self.state: dict[bytes, bytes] = {}
        self.index: dict[bytes, bytes] = {}
        self._index_keys: list[bytes] = []
        self.rows = SortedRows()
        self.meta: dict[bytes, bytes] = {}

    def load_head(self) -> bytes | None:
        """The encoded head."""
        return self.head

    def load_block(self, height: int) -> bytes | None:
        """The encoded block at a height."""
        return self.blocks.get(height)

    def load_height(self, block_hash: bytes) -> int | None:
        """The height of a block hash."""
        return self.heights.get(block_hash)

    def load_receipts(self, height: int) -> bytes | None:
        """The encoded receipts of a block."""
        return self.receipts.get(height)

    def load_state_node(self, key: bytes) -> bytes | None:
        """A trie node by hash."""
        return self.state.get(key)

    def load_index(self, key: bytes) -> bytes | None:
        """An index value."""
        return self.index.get(key)

    def scan_index(self, prefix: bytes, limit: int = 10_000) -> list[tuple[bytes, bytes]]:
        """Entries under a prefix, in key order."""
        start = bisect.bisect_left(self._index_keys, prefix)
        found: list[tuple[bytes, bytes]] = []
        for key in self._index_keys[start:]:
            if not key.startswith(prefix) or len(found) >= limit:
                break
            found.append((key, self.index[key]))
        return found

    def load_row(self, key: bytes) -> bytes | None:
        """A table row."""
        return self.rows.get(key)

    def scan_rows(self, prefix: bytes, limit: int = 10_000,
                  start: bytes = b"") -> list[tuple[bytes, bytes]]:
        """Rows under a prefix from `start` on, in key order."""
        keys = self.rows.sorted_keys
        found: list[tuple[bytes, bytes]] = []
        for key in keys[bisect.bisect_left(keys, max(prefix, start)):]:
            if not key.startswith(prefix) or len(found) >= limit:
                break
            found.append((key, self.rows[key]))
        return found

    def load_rows(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """Table rows under the given keys."""
        return [self.rows.get(key) for key in keys]

    def save_commit(self, commit: StoreCommit) -> None:
        """Apply a commit (a dict update cannot half-fail)."""
        self.blocks[commit.height] = commit.block
        self.heights[commit.block_hash] = commit.height
        self.receipts[commit.height] = commit.receipts
        self.state.update(commit.state_nodes)
        for key, value in commit.index.items():
            if key not in self.index:
                bisect.insort(self._index_keys, key)
            self.index[key] = value
        for key, row in commit.rows.items():
            if row is None:
                self.rows.pop(key, None)
            else:
                self.rows[key] = row
        self.head = commit.head

    def load_meta(self, key: bytes) -> bytes | None:
        """A node-local value."""
        return self.meta.get(key)

    def save_meta(self, key: bytes, value: bytes) -> None:
        """Write a node-local value."""
        self.meta[key] = value
