"""The tables' compact layout (ADR 0024, addendum): the enterprise index in chunks of record ids
with the count in chunk 0, enterprise words written short, a record version's transaction found
by its block position — invisible to views, equal to the reference engine, durable."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.engine.tables import (
    CHUNK_RECORDS,
    KEYS,
    decode_row,
    encode_row,
    long_word,
    short_word,
)
from chain.genesis import EVM_ENGINE, Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import Preset
from chain.storage import MemoryBlockStore
from contracts import bindings
from nodes.storage.blocks import LmdbBlockStore
from tests.chain.ledger_helpers import fresh_ledger, next_block, publication, signed_call

PUBLISHER = "bureau:shanghai"
VERSIONS = 2 * CHUNK_RECORDS + 1  # the 8th, 9th and 17th versions cross chunk boundaries


@pytest.fixture(scope="module")
def reference_genesis(preset: Preset) -> Genesis:
    """Genesis of local4 on py-evm with the Vyper bytecode."""
    return build_genesis(preset, EVM_ENGINE)


def _commit(ledger: Ledger, raws: list[bytes]) -> None:
    for raw in raws:
        ledger.mempool.add(ledger.senders.admit(ledger.decode(raw)))
    receipts = next_block(ledger).receipts
    assert len(receipts) == len(raws) and all(receipt.status for receipt in receipts)


def _publish_versions(ledger: Ledger) -> tuple[list[bytes], bytes]:
    """17 versions of one enterprise over two blocks, then a correction of the third (an 18th
    version, in chunk 2, correcting one in chunk 0)."""
    genesis = ledger.genesis
    key = genesis.preset.key(PUBLISHER)
    publications = [publication(genesis, key, nonce, period=str(2000 + nonce))
                    for nonce in range(VERSIONS)]
    _commit(ledger, [item.raw for item in publications[:CHUNK_RECORDS + 1]])
    _commit(ledger, [item.raw for item in publications[CHUNK_RECORDS + 1:]])
    corrected = b"\x5a" * 32
    _commit(ledger, [signed_call(genesis, key, VERSIONS, "CreditRegistry", bindings.encode_correct(
        publications[2].record_id, corrected, b"\x33" * 32))])
    return [item.record_id for item in publications] + [corrected], corrected


def _view(ledger: Ledger, data: bytes) -> bytes:
    result = ledger.call(ledger.genesis.contracts.registry, data)
    assert result.success, result.revert_reason
    return result.output


def test_an_enterprise_index_crosses_chunks_as_the_reference_engine_reads_it(
        genesis: Genesis, reference_genesis: Genesis) -> None:
    native, reference = fresh_ledger(genesis), fresh_ledger(reference_genesis)
    ids, corrected = _publish_versions(native)
    assert _publish_versions(reference)[0] == ids
    enterprise = genesis.preset.enterprises[0].credit_code
    word = enterprise.to_bytes32()
    for ledger in (native, reference):
        assert bindings.decode_uint(_view(ledger, bindings.encode_record_count(word))) == len(ids)
        for index in (0, 7, 8, 9, 15, 16, 17):
            assert bindings.decode_bytes32(_view(
                ledger, bindings.encode_record_at(word, index))) == ids[index]
        beyond = ledger.call(genesis.contracts.registry if ledger is native
                             else reference_genesis.contracts.registry,
                             bindings.encode_record_at(word, len(ids)))
        assert not beyond.success and beyond.revert_reason == "index out of range"
    assert native.records_of(enterprise.code) == reference.records_of(enterprise.code)
    assert [entry.record_id for entry in native.records_of(enterprise.code)] == ids
    assert native.record(ids[2]).next == corrected
    assert native.record(corrected).previous == ids[2]

    store = native.store
    assert isinstance(store, MemoryBlockStore)
    count, first = decode_row(store.rows[KEYS.enterprise_chunk(word, 0)], "ib")
    (second,) = decode_row(store.rows[KEYS.enterprise_chunk(word, 1)], "b")
    (third,) = decode_row(store.rows[KEYS.enterprise_chunk(word, 2)], "b")
    assert count == len(ids) and KEYS.enterprise_chunk(word, 3) not in store.rows
    assert first == b"".join(ids[:8]) and second == b"".join(ids[8:16])
    assert third == b"".join(ids[16:])
    assert KEYS.enterprise_chunk(word, 0) == b"i" + enterprise.code.encode("ascii") + bytes(4)


WORDS = [
    b"91310000MA1FL0000A".ljust(32, b"\0"),  # a credit code's form
    b"\x01\x02".ljust(32, b"\0"),  # no credit code, but 14 zero bytes at the end
    b"\x01\x02".ljust(31, b"\0") + b"\x07",  # the same first 18 bytes, another word
    bytes(17) + b"\x09" + bytes(14),  # leading zeros are kept in the short form
    b"\xff" * 32,
    bytes(32),
]


def test_words_with_a_zero_tail_are_written_short_and_read_back_whole() -> None:
    forms = [short_word(word) for word in WORDS]
    assert [len(form) for form in forms] == [18, 18, 32, 18, 32, 18]
    assert [long_word(form) for form in forms] == WORDS
    assert len({KEYS.enterprise_key(word) for word in WORDS}) == len(WORDS)
    assert len({KEYS.grant(word, b"\x04" * 20) for word in WORDS}) == len(WORDS)
    for word in WORDS:
        row = encode_row((short_word(word), 7))
        assert decode_row(row, "si") == (word, 7) if row is not None else word == bytes(32)
    assert long_word(b"") == bytes(32)


def test_enterprise_keys_of_words_sharing_a_short_form_prefix_stay_apart(
        genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    regulator = genesis.preset.key("regulator")
    first_nonce = ledger.next_nonce(regulator.address)
    owners = [bytes([index + 1]) * 20 for index in range(len(WORDS) - 1)]
    _commit(ledger, [
        signed_call(genesis, regulator, first_nonce + index, "Authorization",
                    bindings.encode_register_enterprise(word, owner))
        for index, (word, owner) in enumerate(zip(WORDS[:-1], owners, strict=True))])
    assert [ledger.enterprise_key(word) for word in WORDS[:-1]] == owners
    assert ledger.enterprise_key(bytes(32)) is None


def test_a_versions_transaction_hash_survives_a_restart(genesis: Genesis,
                                                        tmp_path: Path) -> None:
    with LmdbBlockStore(tmp_path / "chain") as store:
        ledger = Ledger(store, genesis)
        ids, _ = _publish_versions(ledger)
        before = [ledger.record(record_id) for record_id in ids]
        committed = {receipt.transaction_hash for height in range(1, ledger.head.height + 1)
                     for receipt in ledger.receipts(height)}
        assert {entry.transaction_hash for entry in before} <= committed
        assert len({entry.transaction_hash for entry in before[:CHUNK_RECORDS + 1]}) == 9
    with LmdbBlockStore(tmp_path / "chain") as store:
        reopened = Ledger(store, genesis)  # nothing in memory: the hashes come from the index
        assert [reopened.record(record_id) for record_id in ids] == before
        for entry in before:
            location = reopened.transaction_location(entry.transaction_hash)
            assert location is not None and location[0] == entry.height
        assert reopened.records_of(genesis.preset.enterprises[0].credit_code.code) == before


def test_publishers_are_numbered_in_order_of_their_first_version(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    first, second = genesis.preset.key(PUBLISHER), genesis.preset.key("bureau:nanjing")
    _commit(ledger, [publication(genesis, second, 0, enterprise_index=1).raw,
                     publication(genesis, first, 0).raw, publication(genesis, second, 1).raw])
    store = ledger.store
    assert isinstance(store, MemoryBlockStore)
    numbers = {key.address: decode_row(store.rows[KEYS.publisher_number(key.address)], "i")[0]
               for key in (first, second)}
    assert numbers == {second.address: 1, first.address: 2}
    assert [ledger.publisher_address(number) for number in (1, 2, 3)] == [
        second.address, first.address, bytes(20)]
    for entry in ledger.stored_records(10):  # rows name publishers by number, reads by address
        assert entry.publisher in (first.address, second.address)
        assert entry.origin_city == ledger.members[entry.publisher].city
