"""A packed copy of a stopped node's LMDB store: the free pages and half-empty B-tree pages an
import leaves go back.

LMDB never shrinks its file: pages that copy-on-write frees stay in the file, on LMDB's free
list, for later commits to reuse. And a B-tree filled in random key order (record ids, block
hashes) keeps its leaves about half to two-thirds full. After a bulk import both are a large
share of the file. LMDB's own compacting copy (`MDB_CP_COMPACT`) drops the free pages but keeps
every page as full as it was, so `compact_store` rewrites instead: every named database is read
in key order and appended (`MDB_APPEND`) to a new environment beside the store, which fills
each leaf before starting the next. The copy is flushed and renamed over `data.mdb`, holding the
directory's lock all along, so no node can have the store open. A crash at any point leaves
either the old file or the whole new one (`rename` is atomic); a copy left over by a crash is
removed on the next run. The rows are byte for byte the same, so the state root, which commits
to them, is unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lmdb

from nodes.storage.blocks import MAX_SUB_DATABASES, DirectoryLock, StorageError

STORE_FILE_NAME = "data.mdb"
COPY_DIRECTORY_NAME = "compacting"
ROWS_PER_TRANSACTION = 50_000  # entries appended per write transaction of the copy
MAP_HEADROOM = 2  # the copy's map: this times the source file (the copy is never larger)


@dataclass(frozen=True, slots=True)
class Compaction:
    """A store's allocated file size before and after compaction."""

    path: Path
    bytes_before: int
    bytes_after: int


def stores_under(root: Path) -> list[Path]:
    """Every LMDB store directory (one holding `data.mdb`) at or under `root`, sorted; copies
    left by an interrupted compaction are not stores."""
    root = Path(root)
    if (root / STORE_FILE_NAME).exists():
        return [root]
    return sorted(found.parent for found in root.rglob(STORE_FILE_NAME)
                  if found.parent.name != COPY_DIRECTORY_NAME)


def _allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def compact_store(directory: Path) -> Compaction:
    """Compact the LMDB store in `directory` in place; DataDirectoryLocked while it is open."""
    directory = Path(directory)
    store_file = directory / STORE_FILE_NAME
    if not store_file.exists():
        raise StorageError(f"no store in {directory} to compact")
    lock = DirectoryLock(directory)
    try:
        copy_directory = directory / COPY_DIRECTORY_NAME
        shutil.rmtree(copy_directory, ignore_errors=True)
        copy_directory.mkdir()
        before = _allocated(store_file)
        _rewrite(directory, copy_directory, max(store_file.stat().st_size, 1 << 20))
        copied = copy_directory / STORE_FILE_NAME
        with copied.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(copied, store_file)
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)  # the rename is durable before the lock is released
        finally:
            os.close(descriptor)
        shutil.rmtree(copy_directory, ignore_errors=True)
        return Compaction(directory, before, _allocated(store_file))
    finally:
        lock.release()


def _rewrite(source_directory: Path, copy_directory: Path, source_bytes: int) -> None:
    """Append every named database of the source, in key order, to a new environment."""
    source = lmdb.open(str(source_directory), max_dbs=MAX_SUB_DATABASES, subdir=True,
                       readonly=True, lock=False, create=False)
    copy = lmdb.open(str(copy_directory), max_dbs=MAX_SUB_DATABASES, subdir=True,
                     map_size=source_bytes * MAP_HEADROOM, sync=False, metasync=False)
    try:
        with source.begin() as transaction:
            names = [bytes(key) for key, _ in transaction.cursor()]
        for name in names:
            source_database = source.open_db(name, create=False)
            copy_database = copy.open_db(name)
            with source.begin(db=source_database) as reading:
                entries = reading.cursor().iternext()
                while True:
                    batch = [(bytes(key), bytes(value)) for key, value in
                             _take(entries, ROWS_PER_TRANSACTION)]
                    if not batch:
                        break
                    with copy.begin(write=True, db=copy_database) as writing:
                        added, _ = writing.cursor().putmulti(batch, append=True)
                    if added != len(batch):
                        raise StorageError(f"compacting {source_directory}: database {name!r} "
                                           f"took {added} of {len(batch)} entries")
        copy.sync(True)
    finally:
        copy.close()
        source.close()


def _take(entries: Iterator[tuple[bytes, bytes]], count: int) -> list[tuple[bytes, bytes]]:
    taken = []
    for entry in entries:
        taken.append(entry)
        if len(taken) >= count:
            break
    return taken
