"""Compacting a stopped node's store: same contents, a smaller file, a ledger that reopens and
goes on; a running node's store is refused. `benchmarks.store_breakdown` and
`benchmarks.record_reads` read the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import record_reads, store_breakdown
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from nodes.cli.main import main as yrdchain
from nodes.storage.blocks import DataDirectoryLocked, LmdbBlockStore
from nodes.storage.compaction import compact_store
from tests.nodes.crash_writer import PRESET_NAME, next_block

BLOCKS = 4


def _contents(store: LmdbBlockStore, ledger: Ledger) -> tuple[object, ...]:
    return (store.load_head(), [store.load_block(h) for h in range(BLOCKS + 1)],
            [store.load_receipts(h) for h in range(BLOCKS + 1)],
            store.scan_index(b"", 1 << 30), store.scan_rows(b"", 1 << 30), ledger.members)


def test_a_compacted_store_holds_the_same_chain_in_a_smaller_file(
        genesis: Genesis, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enterprise = get_preset(PRESET_NAME).enterprise("enterprise:shanghai:2").credit_code.code
    directory = tmp_path / "node" / "chain"
    with LmdbBlockStore(directory) as store:
        ledger = Ledger(store, genesis)
        for _ in range(BLOCKS):
            ledger.append_block(next_block(ledger))
        before = _contents(store, ledger)
        records = ledger.records_of(enterprise)
        assert records
        with pytest.raises(DataDirectoryLocked):
            compact_store(directory)  # the owner holds the lock: nothing is touched
    done = compact_store(directory)
    assert done.bytes_after < done.bytes_before
    assert not (directory / "compacting").exists()
    with LmdbBlockStore(directory) as store:
        resumed = Ledger(store, genesis)  # checks the table rows against the state root
        assert _contents(store, resumed) == before
        assert resumed.records_of(enterprise) == records
        resumed.append_block(next_block(resumed))
        assert all(receipt.status == 1 for receipt in resumed.receipts(BLOCKS + 1))
        versions = len(resumed.stored_records(1 << 20))

    assert store_breakdown.main([str(tmp_path / "node"), "--records", "10"]) == 0
    printed = capsys.readouterr().out
    for name in ("tables", "index", "blocks", "receipts", "(free)", "file"):
        assert name in printed
    assert record_reads.main([str(tmp_path / "node"), "--rounds", "1"]) == 0
    printed = capsys.readouterr().out
    assert "records_of" in printed and f"{BLOCKS + 1:,} blocks" in printed
    breakdown = store_breakdown.read_store(directory)
    assert breakdown.file_bytes >= sum(size.bytes for size in breakdown.databases)
    assert {size.name for size in breakdown.databases} >= {"tables", "index", "blocks"}
    tables = {part.prefix: part for part in breakdown.prefixes if part.database == "tables"}
    assert tables["r"].entries == versions  # one records-table row per version
    table_bytes = next(size.bytes for size in breakdown.databases if size.name == "tables")
    assert abs(sum(part.bytes for part in tables.values()) - table_bytes) <= len(tables)
    assert all(part.node_bytes > part.entries * 10 for part in tables.values())


def test_the_compact_command_compacts_every_stopped_store_and_skips_open_ones(
        genesis: Genesis, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for node in ("a", "b"):
        with LmdbBlockStore(tmp_path / node / "chain") as store:
            ledger = Ledger(store, genesis)
            ledger.append_block(next_block(ledger))
    with LmdbBlockStore(tmp_path / "b" / "chain"):
        assert yrdchain(["compact", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert f"{tmp_path / 'a' / 'chain'}: " in printed and " -> " in printed
    assert "skipped" in printed and str(tmp_path / "b" / "chain") in printed
    assert yrdchain(["compact", str(tmp_path / "b")]) == 0
    assert yrdchain(["compact", str(tmp_path / "nothing")]) == 1
