"""Node-local values in their own journal (nodes/storage/meta_values.py) behind the block store."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from nodes.storage import meta_values
from nodes.storage.blocks import LmdbBlockStore
from nodes.storage.meta_values import FILE_NAME, MetaValues, decode_value, encode_value


def test_values_survive_reopening_the_store(tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "chain") as store:
        store.save_meta(b"consensus", b"round 1")
        store.save_meta(b"consensus", b"round 2")
        store.save_meta(b"other", b"x")
        assert store.load_meta(b"consensus") == b"round 2"
    assert (tmp_path / "chain" / FILE_NAME).stat().st_size > 0
    with LmdbBlockStore(tmp_path / "chain") as store:
        assert store.load_meta(b"consensus") == b"round 2"
        assert store.load_meta(b"other") == b"x"
        assert store.load_meta(b"never") is None


def test_a_torn_last_write_is_cut_and_the_earlier_value_stays(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    values = MetaValues(path, lambda key: None)
    values.save(b"k", b"first")
    values.save(b"k", b"second")
    values.close()
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # the second write torn in the middle
    reopened = MetaValues(path, lambda key: None)
    assert reopened.load(b"k") == b"first"
    reopened.save(b"k", b"third")  # appends after the cut, not after the torn bytes
    reopened.close()
    assert MetaValues(path, lambda key: None).load(b"k") == b"third"


def test_a_store_written_before_the_journal_is_read_from_its_meta_table(tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "chain"):
        pass
    environment = lmdb.open(str(tmp_path / "chain"), max_dbs=16)
    meta = environment.open_db(b"meta")
    with environment.begin(write=True) as transaction:
        transaction.put(b"consensus", b"from lmdb", db=meta)
    environment.close()
    with LmdbBlockStore(tmp_path / "chain") as store:
        assert store.load_meta(b"consensus") == b"from lmdb"
        store.save_meta(b"consensus", b"from the journal")
        assert store.load_meta(b"consensus") == b"from the journal"


def test_compaction_keeps_one_record_per_key(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meta_values, "COMPACT_AFTER_RECORDS", 10)
    values = MetaValues(tmp_path / FILE_NAME, lambda key: None)
    for index in range(25):
        values.save(b"k%d" % (index % 3), b"v%d" % index)
    assert values.records <= 10
    assert (tmp_path / FILE_NAME).stat().st_size < 25 * 12  # rewritten, not 25 records
    values.close()
    reopened = MetaValues(tmp_path / FILE_NAME, lambda key: None)
    assert {k: reopened.load(k) for k in (b"k0", b"k1", b"k2")} == {
        b"k0": b"v24", b"k1": b"v22", b"k2": b"v23"}


def test_records_round_trip_and_refuse_a_short_one() -> None:
    assert decode_value(encode_value(b"key", b"value")) == (b"key", b"value")
    with pytest.raises(ValueError, match="shorter than its key"):
        decode_value(b"\x00\x09abc")
