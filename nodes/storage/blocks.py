"""The node's block store on LMDB: every committed block in one durable write transaction.

`LmdbBlockStore` implements `chain.storage.BlockStore` (its in-memory twin is
`chain.storage.MemoryBlockStore`). Layout, one LMDB environment per data directory, with named
sub-databases:

- `blocks`   8-byte big-endian height -> encoded block, one zstd frame
- `heights`  block hash -> 8-byte big-endian height
- `receipts` 8-byte big-endian height -> encoded receipts of the block, one zstd frame with the
             block's bytes as prefix (`nodes.storage.compression`, ADR 0024)
- `state`    trie node or contract code hash -> node or code
- `index`    index key (see `chain.indexer`) -> value; scanned in key order by prefix
- `tables`   table row key (see `chain.engine.tables`) -> row: the native engine's state
- `meta`     node-local values of stores written before `meta.journal` (read as a fallback;
             `save_meta` appends to `nodes.storage.meta_values`, one fsync per value)
- `chain`    the store's own keys: `head` (the encoded `ChainHead`) and `format`

`save_commit` writes a block, its receipts, state nodes, table rows, index entries and the new
head in one
write transaction, so a reader, or a process reopening the directory after `kill -9`, sees the
block whole or not at all, and the head always names the last whole block. LMDB's defaults
`sync=True, metasync=True` make a commit durable before `save_commit` returns (ADR 0003). A bulk
import opens the stores with `durable=False` (LMDB's `MDB_NOSYNC`): its commits reach the
kernel, so a killed process still leaves whole blocks, and the store is flushed once when it
closes (ADR 0022, "Blocks executed ahead").

One process owns a data directory: `LmdbEnvironment` takes an exclusive `flock` on the file
`LOCK` in it and refuses, with `DataDirectoryLocked`, a second opener (another process, or a
second store on the same directory in this process). A node's read workers open the same
directory with `read_only=True`: no lock, no writes, LMDB's reader table shared with the
owner, so they see each commit whole once it returns (ADR 0021). Inside the owning process the
store is thread-safe: writes are serialized, reads run in their own read-only transactions, and
growing the memory map (after `MapFullError`) waits for running reads to finish.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import lmdb

from chain.storage import StoreCommit
from nodes.storage import compression
from nodes.storage.meta_values import FILE_NAME as META_FILE_NAME
from nodes.storage.meta_values import MetaValues

DEFAULT_MAP_SIZE_BYTES = 1 << 30  # 1 GiB of address space; the file only grows as pages are used
MAX_MAP_SIZE_BYTES = 1 << 40  # 1 TiB: the most address space a store reserves before StoreFull
MAP_GROWTH_FACTOR = 2  # each MapFullError doubles the map, so growth retries are logarithmic
MAX_SUB_DATABASES = 8  # named sub-databases one environment may hold
HEIGHT_KEY_BYTES = 8  # heights are 8-byte big-endian keys, so key order is height order
MAX_HEIGHT = (1 << (8 * HEIGHT_KEY_BYTES)) - 1
LOCK_FILE_NAME = "LOCK"  # the single-owner lock of a data directory (fcntl.flock)
LOCK_FILE_MODE = 0o644
STORE_FORMAT = b"yrdchain-blocks-3"  # bumped when the layout changes; a mismatch refuses to open
HEAD_KEY = b"head"
FORMAT_KEY = b"format"

BLOCKS_DB = b"blocks"
HEIGHTS_DB = b"heights"
RECEIPTS_DB = b"receipts"
STATE_DB = b"state"
INDEX_DB = b"index"
META_DB = b"meta"
CHAIN_DB = b"chain"
TABLES_DB = b"tables"
BLOCK_STORE_DATABASES = (BLOCKS_DB, HEIGHTS_DB, RECEIPTS_DB, STATE_DB, INDEX_DB, META_DB, CHAIN_DB,
                         TABLES_DB)


class StorageError(RuntimeError):
    """A store that cannot be opened or written; the node cannot go on without it."""


class DataDirectoryLocked(StorageError):
    """Another owner holds the data directory's lock."""


class StoreClosed(StorageError):
    """The store was used after `close()`."""


class StoreFull(StorageError):
    """The store needs more than `MAX_MAP_SIZE_BYTES` of map."""


class IncompatibleStore(StorageError):
    """The directory holds a store of another layout."""


class CorruptStore(StorageError):
    """A stored value that does not decode (changed on disk behind the store's back)."""


class DirectoryLock:
    """An exclusive, non-blocking `flock` on `<directory>/LOCK`, released by `release()`.

    The kernel drops the lock when its owner dies, even by SIGKILL, so a crashed node never
    leaves a stale lock behind. The file holds the owner's process id, for the error message.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE_NAME
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, LOCK_FILE_MODE)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise DataDirectoryLocked(
                f"data directory {directory} is already open (lock {self.path} is held by "
                f"process {holder}); one process owns a data directory: stop that node or give "
                f"this one another directory"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None


@dataclass(frozen=True, slots=True)
class TableRows:
    """Table rows read within one open read transaction (`LmdbBlockStore.row_session`)."""

    transaction: lmdb.Transaction
    max_key_bytes: int

    def load_row(self, key: bytes) -> bytes | None:
        """A table row, or None."""
        if not 0 < len(key) <= self.max_key_bytes:
            return None
        value: bytes | None = self.transaction.get(key)
        return value


class _ResizeGate:
    """Readers share the map; growing it (`set_mapsize`) needs no transaction in the process.

    LMDB leaves that condition to the caller, so every transaction enters the gate shared and a
    resize enters it exclusively, waiting for running transactions and holding new ones back.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # waited on only around a resize
        self._active = 0
        self._resizing = False

    def enter(self) -> None:
        """Start a transaction (one plain lock round trip unless a resize is under way)."""
        with self._lock:
            while self._resizing:
                self._changed.wait()
            self._active += 1

    def leave(self) -> None:
        """End a transaction."""
        with self._lock:
            self._active -= 1
            if self._resizing and self._active == 0:
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No transaction runs in this process while the body runs."""
        with self._lock:
            while self._resizing:
                self._changed.wait()
            self._resizing = True
            while self._active:
                self._changed.wait()
        try:
            yield
        finally:
            with self._lock:
                self._resizing = False
                self._changed.notify_all()


class LmdbEnvironment:
    """One LMDB environment in a locked directory, with named sub-databases.

    Reads run each in a short read-only transaction (values come back as `bytes`). `write`
    applies a function in one write transaction and commits it, durably; when the map is full
    it grows the map and runs the function again from the start in a new transaction, so the
    function must only write through the transaction it is given.
    """

    def __init__(self, path: Path, names: tuple[bytes, ...],
                 map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES, read_only: bool = False,
                 durable: bool = True) -> None:
        self.durable = durable
        if read_only:
            self._open_read_only(Path(path), names)
            return
        if not 0 < map_size_bytes <= MAX_MAP_SIZE_BYTES:
            raise ValueError(f"map size {map_size_bytes} bytes, expected 1..{MAX_MAP_SIZE_BYTES}")
        if len(names) > MAX_SUB_DATABASES:
            raise ValueError(f"{len(names)} sub-databases, at most {MAX_SUB_DATABASES}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock: DirectoryLock | None = DirectoryLock(self.path)
        try:
            environment = lmdb.open(
                str(self.path), map_size=map_size_bytes, max_dbs=MAX_SUB_DATABASES,
                subdir=True, lock=True, sync=durable, metasync=durable, writemap=False,
            )
        except BaseException:
            self._lock.release()
            raise
        try:
            environment.reader_check()  # free reader slots left by a killed owner
            self._databases = {name: environment.open_db(name) for name in names}
        except BaseException:
            environment.close()
            self._lock.release()
            raise
        self._env: lmdb.Environment | None = environment
        self.max_key_bytes: int = environment.max_key_size()
        self._gate = _ResizeGate()
        self._write_lock = threading.Lock()
        self.read_only = False

    def _open_read_only(self, path: Path, names: tuple[bytes, ...]) -> None:
        """Share an owner's environment for reading (a read worker): no lock, no writes."""
        self.path = path
        self._lock = None
        if not (path / "data.mdb").exists():
            raise StorageError(f"no store in {path} to read: its node has not created it yet")
        environment = lmdb.open(str(path), max_dbs=MAX_SUB_DATABASES, subdir=True,
                                readonly=True, lock=True, create=False)
        try:
            self._databases = {name: environment.open_db(name, create=False)
                               for name in names}
        except BaseException:
            environment.close()
            raise
        self._env = environment
        self.max_key_bytes = environment.max_key_size()
        self._gate = _ResizeGate()
        self._write_lock = threading.Lock()
        self.read_only = True

    def _begin_read(self, environment: lmdb.Environment, name: bytes) -> lmdb.Transaction:
        """A read-only transaction; a map the owner grew meanwhile is adopted first."""
        try:
            return environment.begin(db=self._databases[name])
        except lmdb.MapResizedError:
            self._gate.leave()
            try:
                with self._gate.exclusive():
                    environment.set_mapsize(0)  # 0: take the size the owner set
            finally:
                self._gate.enter()
            return environment.begin(db=self._databases[name])

    def require_open(self) -> None:
        """StoreClosed once the environment is closed."""
        self._environment()

    def _environment(self) -> lmdb.Environment:
        if self._env is None:
            raise StoreClosed(f"the store in {self.path} is closed")
        return self._env

    @property
    def map_size_bytes(self) -> int:
        """The current size of the memory map."""
        size: int = self._environment().info()["map_size"]
        return size

    def database(self, name: bytes) -> lmdb._Database:
        """The handle of a named sub-database."""
        return self._databases[name]

    def get(self, name: bytes, key: bytes) -> bytes | None:
        """The value under a key, or None (also for keys LMDB could never hold)."""
        if not 0 < len(key) <= self.max_key_bytes:
            return None
        environment = self._environment()
        self._gate.enter()
        try:
            with self._begin_read(environment, name) as transaction:
                value: bytes | None = transaction.get(key)
                return value
        finally:
            self._gate.leave()

    @contextmanager
    def reading(self, name: bytes) -> Iterator[lmdb.Transaction]:
        """One read-only transaction on a database for the body (say, a whole block's execution,
        instead of one per row); no write or resize may run in this thread meanwhile."""
        environment = self._environment()
        self._gate.enter()
        try:
            with self._begin_read(environment, name) as transaction:
                yield transaction
        finally:
            self._gate.leave()

    def get_many(self, name: bytes, keys: list[bytes]) -> list[bytes | None]:
        """The values under several keys, read in one transaction (None where absent)."""
        environment = self._environment()
        self._gate.enter()
        try:
            with self._begin_read(environment, name) as transaction:
                return [transaction.get(key) if 0 < len(key) <= self.max_key_bytes else None
                        for key in keys]
        finally:
            self._gate.leave()

    def get_from(self, requests: list[tuple[bytes, list[bytes]]]) -> list[list[bytes | None]]:
        """For each (database, keys) pair, the values under those keys (None where absent), all
        read in one transaction."""
        environment = self._environment()
        self._gate.enter()
        try:
            with self._begin_read(environment, requests[0][0] if requests else CHAIN_DB) as txn:
                found: list[list[bytes | None]] = []
                for name, keys in requests:
                    database = self._databases[name]
                    found.append([txn.get(key, db=database)
                                  if 0 < len(key) <= self.max_key_bytes else None
                                  for key in keys])
                return found
        finally:
            self._gate.leave()

    def scan(self, name: bytes, prefix: bytes, limit: int,
             start: bytes = b"") -> list[tuple[bytes, bytes]]:
        """Up to `limit` entries whose key starts with `prefix`, in key order, from `start`."""
        if limit <= 0 or len(prefix) > self.max_key_bytes:
            return []
        first = max(prefix, start)
        environment = self._environment()
        found: list[tuple[bytes, bytes]] = []
        self._gate.enter()
        try:
            with self._begin_read(environment, name) as transaction:
                cursor = transaction.cursor()
                positioned = cursor.set_range(first) if first else cursor.first()
                if not positioned:
                    return found
                for key, value in cursor:
                    if not key.startswith(prefix):
                        break
                    found.append((key, value))
                    if len(found) >= limit:
                        break
        finally:
            self._gate.leave()
        return found

    def write(self, apply: Callable[[lmdb.Transaction], object]) -> None:
        """Run `apply` in one write transaction and commit it durably, growing the map if full."""
        if self.read_only:
            raise StorageError(f"the store in {self.path} is open read-only")
        environment = self._environment()
        with self._write_lock:
            while True:
                self._gate.enter()
                try:
                    with environment.begin(write=True) as transaction:
                        apply(transaction)
                    return
                except lmdb.MapFullError:
                    pass  # the transaction was aborted; grow the map and run it again
                finally:
                    self._gate.leave()
                self._grow(environment)

    def _grow(self, environment: lmdb.Environment) -> None:
        current: int = environment.info()["map_size"]
        if current >= MAX_MAP_SIZE_BYTES:
            raise StoreFull(f"the store in {self.path} needs more than {MAX_MAP_SIZE_BYTES} "
                            f"bytes of map (MAX_MAP_SIZE_BYTES)")
        with self._gate.exclusive():
            environment.set_mapsize(min(current * MAP_GROWTH_FACTOR, MAX_MAP_SIZE_BYTES))

    def close(self) -> None:
        """Close the environment and release the directory (idempotent).

        Other threads must have stopped using the store.
        """
        if self._env is not None:
            if not self.durable and not self.read_only:
                self._env.sync(True)  # commits were not flushed one by one: flush them all now
            self._env.close()
            self._env = None
            if self._lock is not None:
                self._lock.release()


def encode_height_key(height: int) -> bytes:
    """The 8-byte big-endian key of a height; ValueError outside 0..2**64-1."""
    if not 0 <= height <= MAX_HEIGHT:
        raise ValueError(f"height {height}, expected 0..{MAX_HEIGHT}")
    return height.to_bytes(HEIGHT_KEY_BYTES, "big")


def decode_height_key(key: bytes) -> int:
    """The height of an 8-byte big-endian key."""
    if len(key) != HEIGHT_KEY_BYTES:
        raise IncompatibleStore(f"stored height is {len(key)} bytes, expected {HEIGHT_KEY_BYTES}")
    return int.from_bytes(key, "big")


class LmdbBlockStore:
    """`chain.storage.BlockStore` on LMDB, durable and atomic per block (module docstring)."""

    def __init__(self, path: Path, map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES,
                 read_only: bool = False, durable: bool = True) -> None:
        self.path = Path(path)
        self._lmdb = LmdbEnvironment(self.path, BLOCK_STORE_DATABASES, map_size_bytes,
                                     read_only, durable)
        try:
            self._check_format()
            # a read-only opener (a read worker) neither reads nor touches the owner's journal
            self._meta = None if read_only else MetaValues(
                self.path / META_FILE_NAME, lambda key: self._lmdb.get(META_DB, key))
        except BaseException:
            self._lmdb.close()
            raise

    def _check_format(self) -> None:
        stored = self._lmdb.get(CHAIN_DB, FORMAT_KEY)
        if stored is None:
            if self._lmdb.read_only:
                raise IncompatibleStore(f"{self.path} holds no store format yet")
            if self._lmdb.get(CHAIN_DB, HEAD_KEY) is not None:
                raise IncompatibleStore(f"{self.path} holds a head but no format key")
            chain_db = self._lmdb.database(CHAIN_DB)
            self._lmdb.write(lambda txn: txn.put(FORMAT_KEY, STORE_FORMAT, db=chain_db))
        elif stored != STORE_FORMAT:
            raise IncompatibleStore(f"{self.path} holds store format {stored!r}, this node "
                                    f"reads {STORE_FORMAT!r}: load the chain into a new data "
                                    "directory (`yrdchain dataset --into-data`, or let the "
                                    "node catch up from its peers)")

    @property
    def map_size_bytes(self) -> int:
        """The current size of the memory map (it grows when a commit needs more)."""
        return self._lmdb.map_size_bytes

    # Reads -------------------------------------------------------------------------------

    def load_head(self) -> bytes | None:
        """The encoded head, or None for an empty store."""
        return self._lmdb.get(CHAIN_DB, HEAD_KEY)

    def load_block(self, height: int) -> bytes | None:
        """The encoded block at a height."""
        if not 0 <= height <= MAX_HEIGHT:
            return None
        stored = self._lmdb.get(BLOCKS_DB, encode_height_key(height))
        return self._decode(compression.decompress_block, stored) if stored is not None else None

    def load_height(self, block_hash: bytes) -> int | None:
        """The height of a committed block hash."""
        key = self._lmdb.get(HEIGHTS_DB, block_hash)
        return decode_height_key(key) if key is not None else None

    def load_receipts(self, height: int) -> bytes | None:
        """The encoded receipts of a block."""
        if not 0 <= height <= MAX_HEIGHT:
            return None
        key = encode_height_key(height)
        [stored_block], [stored] = self._lmdb.get_from([(BLOCKS_DB, [key]), (RECEIPTS_DB, [key])])
        if stored is None or stored_block is None:
            return None
        block = self._decode(compression.decompress_block, stored_block)
        return self._decode(lambda frame: compression.decompress_receipts(frame, block), stored)

    def _decode(self, decompress: Callable[[bytes], bytes], stored: bytes) -> bytes:
        try:
            return decompress(stored)
        except compression.CorruptFrame as error:
            raise CorruptStore(f"{self.path}: {error}") from None

    def load_state_node(self, key: bytes) -> bytes | None:
        """A trie node or contract code by its hash."""
        return self._lmdb.get(STATE_DB, key)

    def load_index(self, key: bytes) -> bytes | None:
        """An index value."""
        return self._lmdb.get(INDEX_DB, key)

    def scan_index(self, prefix: bytes, limit: int = 10_000) -> list[tuple[bytes, bytes]]:
        """Index entries whose key starts with `prefix`, in key order, at most `limit`."""
        return self._lmdb.scan(INDEX_DB, prefix, limit)

    def load_row(self, key: bytes) -> bytes | None:
        """A table row (native engine state)."""
        return self._lmdb.get(TABLES_DB, key)

    @contextmanager
    def row_session(self) -> Iterator[TableRows]:
        """Table rows read through one LMDB transaction (a block's execution reads hundreds)."""
        with self._lmdb.reading(TABLES_DB) as transaction:
            yield TableRows(transaction, self._lmdb.max_key_bytes)

    def scan_rows(self, prefix: bytes, limit: int = 10_000,
                  start: bytes = b"") -> list[tuple[bytes, bytes]]:
        """Table rows whose key starts with `prefix`, in key order from `start`, at most
        `limit`."""
        return self._lmdb.scan(TABLES_DB, prefix, limit, start)

    def load_rows(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """Table rows under the given keys, read in one transaction."""
        return self._lmdb.get_many(TABLES_DB, list(keys))

    def load_meta(self, key: bytes) -> bytes | None:
        """A node-local value outside the chain (`nodes.storage.meta_values`)."""
        self._lmdb.require_open()
        if self._meta is None:
            return self._lmdb.get(META_DB, key)
        return self._meta.load(key)

    # Writes ------------------------------------------------------------------------------

    def _check_key(self, key: bytes, what: str) -> None:
        if not 0 < len(key) <= self._lmdb.max_key_bytes:
            raise ValueError(f"{what} key of {len(key)} bytes, expected 1.."
                             f"{self._lmdb.max_key_bytes}")

    def save_commit(self, commit: StoreCommit) -> None:
        """Write a block, its receipts, state, index entries and head in one transaction."""
        height_key = encode_height_key(commit.height)
        self._check_key(commit.block_hash, "block hash")
        stored_block = compression.compress_block(commit.block)
        stored_receipts = compression.compress_receipts(commit.receipts, commit.block)
        for key in commit.index:
            self._check_key(key, "index")
        for key in commit.rows:
            self._check_key(key, "table row")
        databases = {name: self._lmdb.database(name) for name in BLOCK_STORE_DATABASES}

        def apply(transaction: lmdb.Transaction) -> None:
            transaction.put(height_key, stored_block, db=databases[BLOCKS_DB])
            transaction.put(commit.block_hash, height_key, db=databases[HEIGHTS_DB])
            transaction.put(height_key, stored_receipts, db=databases[RECEIPTS_DB])
            if commit.state_nodes:
                transaction.cursor(db=databases[STATE_DB]).putmulti(commit.state_nodes.items())
            if commit.index:
                transaction.cursor(db=databases[INDEX_DB]).putmulti(commit.index.items())
            for key, row in commit.rows.items():
                if row is None:
                    transaction.delete(key, db=databases[TABLES_DB])
                else:
                    transaction.put(key, row, db=databases[TABLES_DB])
            transaction.put(HEAD_KEY, commit.head, db=databases[CHAIN_DB])

        self._lmdb.write(apply)

    def save_meta(self, key: bytes, value: bytes) -> None:
        """Durably write a node-local value (one journal append, fsynced before returning)."""
        self._lmdb.require_open()
        self._check_key(key, "meta")
        if self._meta is None:
            raise StorageError(f"the store in {self.path} is open read-only")
        self._meta.save(key, value)

    # Lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the environment and release the data directory (idempotent)."""
        if self._meta is not None:
            self._meta.close()
        self._lmdb.close()

    def __enter__(self) -> LmdbBlockStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
