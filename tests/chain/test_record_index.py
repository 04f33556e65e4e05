"""Record reads answer the same on both engines, while the native index keeps no entry per
record: a version's row names its transaction by block and position, and each block's list of
transaction hashes is one index entry (ADR 0024)."""

from __future__ import annotations

import pytest

from chain.engine.tables import KEYS, decode_row, encode_row
from chain.errors import MalformedInput
from chain.genesis import EVM_ENGINE, Genesis, build_genesis
from chain.indexer import (
    ENTERPRISE_PREFIX,
    RECORD_PREFIX,
    RECORD_ROW_FIELDS,
    block_transactions_key,
    record_entry_of_row,
    record_ids_of_chunks,
)
from chain.ledger import Ledger
from chain.presets import Preset
from chain.storage import MemoryBlockStore
from contracts import bindings
from tests.chain.ledger_helpers import fresh_ledger, next_block, publication, signed_call

PUBLISHER = "bureau:shanghai"


@pytest.fixture(scope="module")
def reference_genesis(preset: Preset) -> Genesis:
    """Genesis of local4 on py-evm with the Vyper bytecode."""
    return build_genesis(preset, EVM_ENGINE)


def _run(genesis: Genesis) -> tuple[Ledger, list[bytes]]:
    """Publishes over two enterprises, a correction, a revocation, in three blocks."""
    key = genesis.preset.key(PUBLISHER)
    first = publication(genesis, key, 0)
    second = publication(genesis, key, 1, enterprise_index=1)
    third = publication(genesis, key, 2, period="2025")
    corrected = b"\x78" * 32
    blocks = [
        [first.raw, second.raw, third.raw],
        [signed_call(genesis, key, 3, "CreditRegistry",
                     bindings.encode_correct(first.record_id, corrected, b"\x22" * 32))],
        [signed_call(genesis, key, 4, "CreditRegistry",
                     bindings.encode_revoke(third.record_id, 1))],
    ]
    ledger = fresh_ledger(genesis)
    for raws in blocks:
        for raw in raws:
            ledger.mempool.add(ledger.senders.admit(ledger.decode(raw)))
        receipts = next_block(ledger).receipts
        assert all(receipt.status for receipt in receipts)
    return ledger, [first.record_id, second.record_id, third.record_id, corrected]


def test_record_reads_equal_the_reference_engine(genesis: Genesis,
                                                 reference_genesis: Genesis) -> None:
    native, ids = _run(genesis)
    reference, _ = _run(reference_genesis)
    enterprises = [enterprise.credit_code.code for enterprise in genesis.preset.enterprises[:3]]
    for enterprise in enterprises:
        assert native.records_of(enterprise) == reference.records_of(enterprise)
        assert native.has_records(enterprise) == reference.has_records(enterprise)
    assert [entry.record_id for entry in native.records_of(enterprises[0])] == [
        ids[0], ids[2], ids[3]]
    assert not native.has_records(enterprises[2]) and native.records_of(enterprises[2]) == []
    for record_id in ids:
        assert native.record(record_id) == reference.record(record_id)
        assert native.record_versions(record_id) == reference.record_versions(record_id)
    assert native.stored_records(100) == reference.stored_records(100)
    statuses = {entry.record_id: entry.status for entry in native.stored_records(100)}
    assert statuses == {ids[0]: int(bindings.RecordStatus.CORRECTED),
                        ids[1]: int(bindings.RecordStatus.ACTIVE),
                        ids[2]: int(bindings.RecordStatus.REVOKED),
                        ids[3]: int(bindings.RecordStatus.ACTIVE)}
    corrected = native.record(ids[3])
    assert corrected.previous == ids[0] and native.record(ids[0]).next == ids[3]
    assert corrected.origin_city == native.members[corrected.publisher].city != 0
    assert native.receipt(corrected.transaction_hash) is not None


def test_the_native_index_holds_transaction_hashes_only(genesis: Genesis) -> None:
    ledger, ids = _run(genesis)
    store = ledger.store
    assert isinstance(store, MemoryBlockStore)
    assert not [key for key in store.index if key.startswith(ENTERPRISE_PREFIX)]
    assert not [key for key in store.index if key.startswith(RECORD_PREFIX)]
    for record_id in ids:
        entry = ledger.record(record_id)
        location = ledger.transaction_location(entry.transaction_hash)
        assert location is not None and location[0] == entry.height
        hashes = store.index[block_transactions_key(entry.height)]
        assert hashes[32 * location[1]:32 * location[1] + 32] == entry.transaction_hash


def test_strings_that_are_no_credit_code_have_no_records(genesis: Genesis) -> None:
    ledger, _ = _run(genesis)
    for text in ("", "short", "91310000MA1FL0000A-too-long", "91310000MA1FL0000é"):
        assert ledger.records_of(text) == [] and not ledger.has_records(text)


def test_a_zero_word_in_a_row_is_written_empty_and_read_back_as_zeros(genesis: Genesis) -> None:
    ledger, ids = _run(genesis)
    store = ledger.store
    assert isinstance(store, MemoryBlockStore)
    first = store.rows[KEYS.record(ids[1])]  # version 1, never corrected: no previous, no next
    corrected = store.rows[KEYS.record(ids[0])]  # has a next version
    assert bytes(32) not in first and ids[3] in corrected
    assert len(first) + 32 == len(corrected)
    entry = ledger.record(ids[1])
    assert entry.previous == entry.next == b""
    view = ledger.call(genesis.contracts.registry, bindings.encode_record(ids[1]))
    assert view.success
    record = bindings.decode_record(view.output)  # the view still returns zero words
    assert record.previous == record.next == bytes(32) and record.version == 1


def test_rows_read_on_the_fast_path_equal_the_strict_decoding(genesis: Genesis) -> None:
    ledger, ids = _run(genesis)
    store = ledger.store
    assert isinstance(store, MemoryBlockStore)
    for record_id in ids:
        row = store.rows[KEYS.record(record_id)]
        strict = decode_row(row, RECORD_ROW_FIELDS)
        entry = record_entry_of_row(record_id, row, _any_transaction, ledger.publisher_address,
                                    ledger.members.get)
        assert isinstance(strict[2], int)  # the publisher's number
        assert (entry.payload_hash, entry.publisher, entry.kind, entry.status, entry.version,
                entry.height) == (strict[1], ledger.publisher_address(strict[2]), strict[3],
                                  strict[4], strict[5], strict[6])
        assert entry.publisher == genesis.preset.key(PUBLISHER).address
    long_field = encode_row((b"x" * 60, b"\2" * 32, 1, 1, 1, 1, 5, 0, b"", b""))
    assert long_field is not None  # not the short-field shape: decoded strictly, same answer
    assert record_entry_of_row(ids[0], long_field, _any_transaction, ledger.publisher_address,
                               ledger.members.get).height == 5
    with pytest.raises(MalformedInput):
        record_entry_of_row(ids[0], b"\xc2\x01\x02", _any_transaction, ledger.publisher_address,
                            ledger.members.get)
    first_chunk = KEYS.enterprise_chunk(genesis.preset.enterprises[0].credit_code.to_bytes32(), 0)
    assert record_ids_of_chunks([(first_chunk, encode_row((1, ids[0])) or b"")]) == [ids[0]]


def _any_transaction(height: int, position: int) -> bytes:
    return b"\1" * 32
