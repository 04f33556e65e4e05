"""The BlockStore contract, run against both MemoryBlockStore and LmdbBlockStore.

Then what only the LMDB store has: persistence across reopen, a ledger that resumes where it
stopped, the single-owner lock, map growth, closing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import lmdb
import pytest

import chain.ledger
from chain.codec import decode_head
from chain.errors import InvalidBlock
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from chain.storage import BlockStore, MemoryBlockStore, StoreCommit
from nodes.storage.blocks import (
    CHAIN_DB,
    FORMAT_KEY,
    TABLES_DB,
    DataDirectoryLocked,
    IncompatibleStore,
    LmdbBlockStore,
    LmdbEnvironment,
    StoreClosed,
)
from tests.nodes.crash_writer import PRESET_NAME, next_block

SMALL_MAP_SIZE_BYTES = 64 * 1024  # small enough that a few hundred kilobytes must grow it
SUBPROCESS_TIMEOUT_S = 60
READER_PAUSE_S = 0.0005  # readers yield the GIL between reads, as request handlers would


@dataclass
class OpenStore:
    """A store under test and how to get it back after a restart."""

    store: BlockStore
    reopen: Callable[[], BlockStore]


@pytest.fixture(params=["memory", "lmdb"])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Each contract test runs on both stores; `reopen` is a restart (the same object in memory)."""
    if request.param == "memory":
        memory = MemoryBlockStore()
        yield OpenStore(memory, lambda: memory)
        return
    held: list[LmdbBlockStore] = [LmdbBlockStore(tmp_path / "data")]

    def reopen() -> BlockStore:
        held[-1].close()
        held.append(LmdbBlockStore(tmp_path / "data"))
        return held[-1]

    yield OpenStore(held[0], reopen)
    held[-1].close()


def make_commit(height: int, index: dict[bytes, bytes] | None = None,
                state: dict[bytes, bytes] | None = None) -> StoreCommit:
    """A commit whose contents are derived from the height."""
    block_hash = bytes([height]) * 32
    return StoreCommit(
        height=height, block_hash=block_hash, block=b"block-%d" % height,
        receipts=b"receipts-%d" % height, head=b"head-%d" % height,
        state_nodes=state if state is not None else {bytes([height, 1]) * 16: b"node-%d" % height},
        index=index or {},
    )


# The contract, both stores ------------------------------------------------------------------

def test_an_empty_store_holds_nothing(opened: OpenStore) -> None:
    store = opened.store
    assert store.load_head() is None
    assert store.load_block(0) is None
    assert store.load_block(-1) is None
    assert store.load_height(b"\1" * 32) is None
    assert store.load_receipts(0) is None
    assert store.load_state_node(b"\2" * 32) is None
    assert store.load_index(b"R" + b"\3" * 32) is None
    assert store.scan_index(b"") == []
    assert store.scan_index(b"E") == []
    assert store.load_meta(b"lock") is None


def test_commits_save_blocks_heights_receipts_state_and_head(opened: OpenStore) -> None:
    store = opened.store
    for height in range(3):
        store.save_commit(make_commit(height))
    assert store.load_head() == b"head-2"
    for height in range(3):
        assert store.load_block(height) == b"block-%d" % height
        assert store.load_height(bytes([height]) * 32) == height
        assert store.load_receipts(height) == b"receipts-%d" % height
        assert store.load_state_node(bytes([height, 1]) * 16) == b"node-%d" % height
    assert store.load_block(3) is None
    assert store.load_receipts(3) is None


def test_later_commits_overwrite_index_values_and_add_state(opened: OpenStore) -> None:
    store = opened.store
    store.save_commit(make_commit(0, index={b"Rrecord": b"active"}))
    store.save_commit(make_commit(1, index={b"Rrecord": b"corrected", b"Rother": b"active"}))
    assert store.load_index(b"Rrecord") == b"corrected"
    assert store.scan_index(b"R") == [(b"Rother", b"active"), (b"Rrecord", b"corrected")]
    assert store.load_state_node(bytes([0, 1]) * 16) == b"node-0"
    assert store.load_state_node(bytes([1, 1]) * 16) == b"node-1"


def test_commits_with_no_state_nodes_or_index(opened: OpenStore) -> None:
    store = opened.store
    store.save_commit(make_commit(0, index={}, state={}))
    assert store.load_head() == b"head-0"
    assert store.scan_index(b"") == []


def test_table_rows_are_written_deleted_and_scanned_from_a_start(opened: OpenStore) -> None:
    store = opened.store
    rows: dict[bytes, bytes | None] = {b"r1": b"a", b"r2": b"b", b"r3": b"c", b"s1": b"d"}
    store.save_commit(replace(make_commit(0), rows=rows))
    store.save_commit(replace(make_commit(1), rows={b"r2": None, b"r4": b"e"}))
    store = opened.reopen()
    assert store.load_row(b"r2") is None and store.load_row(b"r4") == b"e"
    assert store.load_rows([b"r4", b"r2", b"r1", b""]) == [b"e", None, b"a", None]
    assert store.scan_rows(b"r") == [(b"r1", b"a"), (b"r3", b"c"), (b"r4", b"e")]
    assert store.scan_rows(b"r", 1, start=b"r2") == [(b"r3", b"c")]
    assert store.scan_rows(b"", 10, start=b"r4\0") == [(b"s1", b"d")]


def test_a_row_session_reads_what_load_row_reads_in_one_transaction(tmp_path: Path) -> None:
    store = LmdbBlockStore(tmp_path / "chain")
    store.save_commit(replace(make_commit(0), rows={b"r1": b"a", b"r2": b"b"}))
    with store.row_session() as rows:
        store.save_commit(replace(make_commit(1), rows={b"r1": None, b"r3": b"c"}))
        # the session reads the state it began on, whatever commits meanwhile
        assert [rows.load_row(key) for key in (b"r1", b"r2", b"r3")] == [b"a", b"b", None]
        assert rows.load_row(b"") is None and rows.load_row(b"r" * 600) is None
    assert [store.load_row(key) for key in (b"r1", b"r2", b"r3")] == [None, b"b", b"c"]
    store.close()


def test_a_store_that_is_not_durable_skips_each_fsync_and_keeps_whole_commits(
        tmp_path: Path) -> None:
    """The import's stores (`durable=False`, LMDB's MDB_NOSYNC) flush once, when closed."""
    store = LmdbBlockStore(tmp_path / "chain", durable=False)
    assert store._lmdb._environment().flags()["sync"] is False
    store.save_commit(replace(make_commit(0), rows={b"r1": b"a"}))
    store.save_commit(replace(make_commit(1), rows={b"r2": b"b"}))
    store.close()
    again = LmdbBlockStore(tmp_path / "chain")
    assert again._lmdb._environment().flags()["sync"] is True  # a node's own opening
    assert again.load_row(b"r1") == b"a" and again.load_row(b"r2") == b"b"
    assert again.load_block(1) == make_commit(1).block
    again.close()


def test_an_lmdb_row_changed_behind_the_ledger_stops_it_opening(
        genesis: Genesis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain.ledger, "ROWS_PER_SCAN", 7)  # several chunks
    with LmdbBlockStore(tmp_path / "data") as store:
        ledger = Ledger(store, genesis)
        ledger.append_block(next_block(ledger))
    with LmdbBlockStore(tmp_path / "data") as store:
        Ledger(store, genesis)  # whole: it opens
        key, row = store.scan_rows(b"m", 1)[0]
        tables = store._lmdb.database(TABLES_DB)  # a write that bypasses the ledger
        store._lmdb.write(lambda transaction: transaction.put(key, row + b"\1", db=tables))
    with LmdbBlockStore(tmp_path / "data") as store, pytest.raises(InvalidBlock,
                                                                  match="table rows"):
        Ledger(store, genesis)


INDEX_KEYS = [b"F", b"E1\xff", b"E0\xff", b"E1", b"E2", b"E1\x00", b"E1\x00\x01", b"D\xff\xff"]


def test_scan_index_returns_the_prefix_in_key_order(opened: OpenStore) -> None:
    store = opened.store
    store.save_commit(make_commit(0, index={key: b"v" + key for key in INDEX_KEYS}))
    assert [key for key, _ in store.scan_index(b"E1")] == [
        b"E1", b"E1\x00", b"E1\x00\x01", b"E1\xff"]
    assert store.scan_index(b"E1\x00") == [(b"E1\x00", b"vE1\x00"),
                                            (b"E1\x00\x01", b"vE1\x00\x01")]
    assert [key for key, _ in store.scan_index(b"E")] == [
        b"E0\xff", b"E1", b"E1\x00", b"E1\x00\x01", b"E1\xff", b"E2"]
    assert [key for key, _ in store.scan_index(b"")] == sorted(INDEX_KEYS)


def test_scan_index_stops_at_prefix_boundaries(opened: OpenStore) -> None:
    store = opened.store
    store.save_commit(make_commit(0, index={key: b"v" for key in INDEX_KEYS}))
    assert store.scan_index(b"E15") == []  # sorts between E1\x00\x01 and E1\xff
    assert store.scan_index(b"E3") == []  # between E2 and F
    assert store.scan_index(b"G") == []  # after every key
    assert store.scan_index(b"C") == []  # before every key
    assert store.scan_index(b"D") == [(b"D\xff\xff", b"v")]
    assert store.scan_index(b"E1\xff\xff") == []  # longer than the key it would match


def test_scan_index_respects_the_limit(opened: OpenStore) -> None:
    store = opened.store
    store.save_commit(make_commit(0, index={b"E" + bytes([i]): b"v" for i in range(10)}))
    assert store.scan_index(b"E", 0) == []
    assert store.scan_index(b"E", 1) == [(b"E\x00", b"v")]
    assert [key for key, _ in store.scan_index(b"E", 3)] == [b"E\x00", b"E\x01", b"E\x02"]
    assert len(store.scan_index(b"E", 10)) == 10
    assert len(store.scan_index(b"E", 11)) == 10


def test_meta_is_apart_from_the_chain(opened: OpenStore) -> None:
    store = opened.store
    store.save_meta(b"consensus-lock", b"round 3")
    store.save_meta(b"consensus-lock", b"round 4")
    store.save_meta(b"head", b"not the chain head")
    store.save_commit(make_commit(0, index={b"consensus-lock": b"index value"}))
    assert store.load_meta(b"consensus-lock") == b"round 4"
    assert store.load_meta(b"head") == b"not the chain head"
    assert store.load_head() == b"head-0"
    assert store.load_index(b"consensus-lock") == b"index value"


def test_a_restart_keeps_everything(opened: OpenStore) -> None:
    store = opened.store
    for height in range(4):
        store.save_commit(make_commit(height, index={b"E%d" % height: b"%d" % height}))
    store.save_meta(b"audit-position", b"17")
    reopened = opened.reopen()
    assert reopened.load_head() == b"head-3"
    assert [reopened.load_block(height) for height in range(4)] == [
        b"block-%d" % height for height in range(4)]
    assert reopened.load_height(bytes([2]) * 32) == 2
    assert reopened.load_receipts(3) == b"receipts-3"
    assert reopened.load_state_node(bytes([1, 1]) * 16) == b"node-1"
    assert reopened.scan_index(b"E") == [(b"E%d" % h, b"%d" % h) for h in range(4)]
    assert reopened.load_meta(b"audit-position") == b"17"


# A ledger on LMDB ---------------------------------------------------------------------------

def test_a_ledger_resumes_on_a_reopened_store(genesis: Genesis, tmp_path: Path) -> None:
    enterprise = get_preset(PRESET_NAME).enterprise("enterprise:shanghai:2").credit_code.code
    with LmdbBlockStore(tmp_path / "data") as store:
        ledger = Ledger(store, genesis)
        blocks = []
        for _ in range(3):
            blocks.append(next_block(ledger))
            ledger.append_block(blocks[-1])
        assert all(receipt.status == 1 for receipt in ledger.receipts(3))
        head, members, records = ledger.head, ledger.members, ledger.records_of(enterprise)
        assert records
    with LmdbBlockStore(tmp_path / "data") as store:
        resumed = Ledger(store, genesis)
        assert resumed.head == head
        assert decode_head(store.load_head() or b"") == head
        assert resumed.members == members
        assert resumed.records_of(enterprise) == records
        assert [resumed.block(h) for h in range(1, 4)] == blocks
        for _ in range(2):
            resumed.append_block(next_block(resumed))
        assert resumed.head.height == 5
        assert all(receipt.status == 1 for receipt in resumed.receipts(5))
        stored = [resumed.block(height) for height in range(1, 6)]
    in_memory = Ledger(MemoryBlockStore(), genesis)
    for block in stored:
        in_memory.append_block(block)
    assert in_memory.head.state_root == stored[-1].header.state_root
    assert in_memory.head.block_hash == stored[-1].hash


# LMDB only ----------------------------------------------------------------------------------

def test_a_second_store_on_a_directory_is_refused(tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "data"), pytest.raises(DataDirectoryLocked,
                                                          match="already open"):
        LmdbBlockStore(tmp_path / "data")
    with LmdbBlockStore(tmp_path / "data") as again:
        assert again.load_head() is None


def test_a_second_process_on_a_directory_is_refused(tmp_path: Path) -> None:
    script = ("import sys; from pathlib import Path\n"
              "from nodes.storage.blocks import LmdbBlockStore\n"
              "LmdbBlockStore(Path(sys.argv[1]))\n")
    with LmdbBlockStore(tmp_path / "data"):
        refused = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")],
                                 capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert refused.returncode != 0
    assert "DataDirectoryLocked" in refused.stderr
    assert "one process owns a data directory" in refused.stderr


def test_a_full_map_grows_and_the_commit_lands_whole(tmp_path: Path) -> None:
    nodes = {i.to_bytes(32, "big"): bytes([i % 256]) * 1024 for i in range(400)}
    with LmdbBlockStore(tmp_path / "data", map_size_bytes=SMALL_MAP_SIZE_BYTES) as store:
        store.save_commit(make_commit(0, state=nodes, index={b"E": b"1"}))
        assert store.map_size_bytes > SMALL_MAP_SIZE_BYTES
    with LmdbBlockStore(tmp_path / "data", map_size_bytes=SMALL_MAP_SIZE_BYTES) as store:
        assert all(store.load_state_node(key) == value for key, value in nodes.items())
        assert store.load_head() == b"head-0"
        more = {key[::-1]: value for key, value in nodes.items()}
        store.save_commit(make_commit(1, state=more))  # grows again from the reopened size
        assert all(store.load_state_node(key) == value for key, value in more.items())
        assert store.load_head() == b"head-1"


def test_reads_run_while_commits_grow_the_map(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    stop = threading.Event()
    with LmdbBlockStore(tmp_path / "data", map_size_bytes=SMALL_MAP_SIZE_BYTES) as store:
        store.save_commit(make_commit(0))

        def read() -> None:
            try:
                while not stop.is_set():
                    head = store.load_head()
                    assert head is not None and head.startswith(b"head-")
                    assert store.load_block(0) == b"block-0"
                    store.scan_index(b"E", 5)
                    time.sleep(READER_PAUSE_S)
            except BaseException as error:
                failures.append(error)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            for height in range(1, 30):
                state = {height.to_bytes(2, "big") + i.to_bytes(30, "big"): b"x" * 512
                         for i in range(40)}
                store.save_commit(make_commit(height, state=state, index={b"E%d" % height: b""}))
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert store.map_size_bytes > SMALL_MAP_SIZE_BYTES
        assert store.load_head() == b"head-29"
    assert failures == []


def test_keys_lmdb_cannot_hold_are_refused_on_write(tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "data") as store:
        with pytest.raises(ValueError, match="meta key"):
            store.save_meta(b"", b"value")
        with pytest.raises(ValueError, match="index key"):
            store.save_commit(make_commit(0, index={b"E" * 600: b"v"}))
        with pytest.raises(ValueError, match="height"):
            store.save_commit(StoreCommit(height=-1, block_hash=b"h" * 32, block=b"",
                                          receipts=b"", head=b"", state_nodes={}))
        assert store.load_head() is None
        assert store.load_meta(b"m" * 600) is None


def test_a_failed_commit_writes_nothing(tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "data") as store:
        with pytest.raises(lmdb.BadValsizeError):
            store.save_commit(make_commit(0, state={b"\1" * 32: b"node", b"": b"bad key"}))
        assert store.load_head() is None
        assert store.load_block(0) is None
        assert store.load_state_node(b"\1" * 32) is None


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = LmdbBlockStore(tmp_path / "data")
    store.close()
    store.close()
    with pytest.raises(StoreClosed):
        store.load_head()
    with pytest.raises(StoreClosed):
        store.save_meta(b"key", b"value")


def test_a_store_of_another_format_is_refused(tmp_path: Path) -> None:
    LmdbBlockStore(tmp_path / "data").close()
    environment = LmdbEnvironment(tmp_path / "data", (CHAIN_DB,))
    chain_db = environment.database(CHAIN_DB)
    environment.write(lambda transaction: transaction.put(FORMAT_KEY, b"other", db=chain_db))
    environment.close()
    with pytest.raises(IncompatibleStore, match="other"):
        LmdbBlockStore(tmp_path / "data")
    LmdbEnvironment(tmp_path / "data", (CHAIN_DB,)).close()  # the refusal released the lock


def test_a_store_of_the_previous_layout_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    LmdbBlockStore(tmp_path / "data").close()
    environment = LmdbEnvironment(tmp_path / "data", (CHAIN_DB,))
    chain_db = environment.database(CHAIN_DB)
    environment.write(lambda transaction: transaction.put(
        FORMAT_KEY, b"yrdchain-blocks-2", db=chain_db))  # before the chunked enterprise index
    environment.close()
    with pytest.raises(IncompatibleStore, match=r"yrdchain-blocks-2.*new data directory"):
        LmdbBlockStore(tmp_path / "data")
    environment = LmdbEnvironment(tmp_path / "data", (CHAIN_DB,))
    assert environment.get(CHAIN_DB, FORMAT_KEY) == b"yrdchain-blocks-2"
    environment.close()


READ_ONLY_READER = """
import sys
from pathlib import Path
from nodes.storage.blocks import LmdbBlockStore, StorageError
store = LmdbBlockStore(Path(sys.argv[1]), read_only=True)
for line in sys.stdin:
    if line.strip() == "write":
        try:
            store.save_meta(b"k", b"v")
            print("wrote", flush=True)
        except StorageError as error:
            print("refused", error, flush=True)
        continue
    head = store.load_head()
    node = store.load_state_node(bytes([int(line), 1]) * 16)
    print(head.decode() if head else None, len(node or b""), flush=True)
"""


def test_a_read_only_opener_follows_the_owner_and_writes_nothing(tmp_path: Path) -> None:
    """A node's read worker opens its store read-only from another process, beside the owner
    that holds the lock: it sees each commit whole once it returns, adopts a map the owner grew
    meanwhile, and cannot write (ADR 0021)."""
    big = b"x" * (4 * SMALL_MAP_SIZE_BYTES)
    with LmdbBlockStore(tmp_path / "data", map_size_bytes=SMALL_MAP_SIZE_BYTES) as owner:
        owner.save_commit(make_commit(1))
        reader = subprocess.Popen([sys.executable, "-c", READ_ONLY_READER, str(tmp_path / "data")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert reader.stdin is not None and reader.stdout is not None
        try:
            def ask(line: str) -> str:
                assert reader.stdin is not None and reader.stdout is not None
                reader.stdin.write(line + "\n")
                reader.stdin.flush()
                return reader.stdout.readline().strip()

            assert ask("1") == "head-1 6"
            owner.save_commit(make_commit(2, state={bytes([2, 1]) * 16: big}))
            assert owner.map_size_bytes > SMALL_MAP_SIZE_BYTES
            assert ask("2") == f"head-2 {len(big)}"
            assert ask("write").startswith("refused")
            assert owner.load_meta(b"k") is None
        finally:
            reader.stdin.close()
            reader.wait(SUBPROCESS_TIMEOUT_S)
        assert reader.returncode == 0
