"""The ledger on the native engine: same receipts as the reference, roots, tables, no py-evm."""

from __future__ import annotations

import pytest

import chain.execution
from chain.crypto import derive_private_key
from chain.engine.executor import load_commitment
from chain.engine.tables import KEYS, decode_row
from chain.errors import InvalidBlock
from chain.execution import Receipt
from chain.genesis import EVM_ENGINE, Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import Preset
from chain.storage import MemoryBlockStore
from contracts import bindings
from tests.chain.ledger_helpers import (
    fresh_ledger,
    grant_call,
    is_authorized,
    next_block,
    publication,
    signed_call,
)

PUBLISHER = "bureau:shanghai"
QUERIER = "bank:shanghai"


@pytest.fixture(scope="module")
def reference_genesis(preset: Preset) -> Genesis:
    """Genesis of local4 on py-evm with the Vyper bytecode."""
    return build_genesis(preset, EVM_ENGINE)


def _outcome(receipt: Receipt) -> tuple[object, ...]:
    """What both engines must agree on (gas has a schedule of its own natively)."""
    return receipt.status, receipt.logs, receipt.revert_reason


def _workload(genesis: Genesis) -> list[list[bytes]]:
    """Three blocks: publishes (one with a bad credit code), a grant, a correction, refusals."""
    preset = genesis.preset
    publisher = preset.key(PUBLISHER)
    querier = preset.key(QUERIER)
    first = publication(genesis, publisher, 0)
    second = publication(genesis, publisher, 1, enterprise_index=1)
    bad_code = bindings.encode_publish(b"\x77" * 32, b"91310000MA1FL0000A".ljust(32, b"\0"), 1,
                                       b"\x11" * 32)
    correct = bindings.encode_correct(first.record_id, b"\x78" * 32, b"\x22" * 32)
    enterprise = preset.enterprises[0].credit_code.to_bytes32()
    again = bindings.encode_publish(first.record_id, enterprise, 1, b"\x11" * 32)
    return [
        [first.raw, second.raw, signed_call(genesis, publisher, 2, "CreditRegistry", bad_code)],
        [grant_call(genesis, preset.key(preset.enterprises[0].label), querier, 0, 0),
         signed_call(genesis, publisher, 3, "CreditRegistry", correct)],
        [signed_call(genesis, publisher, 4, "CreditRegistry", again)],
    ]


def _run(genesis: Genesis) -> tuple[Ledger, list[tuple[Receipt, ...]]]:
    ledger = fresh_ledger(genesis)
    receipts = []
    for raws in _workload(genesis):
        for raw in raws:
            ledger.mempool.add(ledger.senders.admit(ledger.decode(raw)))
        receipts.append(next_block(ledger).receipts)
    return ledger, receipts


def test_genesis_logs_and_nonces_equal_the_reference(genesis: Genesis,
                                                     reference_genesis: Genesis) -> None:
    assert [_outcome(r) for r in genesis.result.receipts] == [
        _outcome(r) for r in reference_genesis.result.receipts]
    native, reference = fresh_ledger(genesis), fresh_ledger(reference_genesis)
    regulator = genesis.regulator
    assert native.account(regulator).nonce == reference.account(regulator).nonce > 3


def test_blocks_give_the_reference_receipts(genesis: Genesis,
                                            reference_genesis: Genesis) -> None:
    native_ledger, native = _run(genesis)
    reference_ledger, reference = _run(reference_genesis)
    assert [[_outcome(r) for r in block] for block in native] == [
        [_outcome(r) for r in block] for block in reference]
    assert native[0][2].revert_reason == "bad enterprise"
    assert native[2][0].revert_reason == "record exists"
    querier = genesis.preset.key(QUERIER)
    assert is_authorized(native_ledger, 0, querier) and is_authorized(reference_ledger, 0, querier)


def test_same_blocks_give_the_same_roots_on_fresh_ledgers(genesis: Genesis) -> None:
    first, _ = _run(genesis)
    second, _ = _run(genesis)
    assert first.head == second.head
    heads = {first.block(height).header.state_root for height in range(first.head.height + 1)}
    assert len(heads) == first.head.height + 1  # every block changed the tables


def test_a_native_block_and_its_reads_open_no_evm_state(genesis: Genesis,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("py-evm state opened")

    ledger = fresh_ledger(genesis)
    monkeypatch.setattr(chain.execution, "_open_state", refuse)
    for raws in _workload(genesis):
        for raw in raws:
            ledger.mempool.add(ledger.senders.admit(ledger.decode(raw)))
        next_block(ledger)
    assert is_authorized(ledger, 0, genesis.preset.key(QUERIER))
    assert ledger.account(genesis.preset.key(PUBLISHER).address).nonce == 5


def test_gas_estimate_is_the_receipts_gas(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    publisher = genesis.preset.key(PUBLISHER)
    item = publication(genesis, publisher, 0)
    data = ledger.decode(item.raw).data
    estimate = ledger.estimate_gas(publisher.address, genesis.contracts.registry, data)
    ledger.admit(item.raw)
    (receipt,) = next_block(ledger).receipts
    assert receipt.status == 1 and receipt.gas_used == estimate


def test_a_block_with_another_root_is_refused_and_changes_nothing(genesis: Genesis) -> None:
    builder, follower = fresh_ledger(genesis), fresh_ledger(genesis)
    builder.admit(publication(genesis, genesis.preset.key(PUBLISHER), 0).raw)
    block = builder.build_block(builder.head.timestamp_ms + 1_000, "shanghai-1")
    forged = type(block)(
        type(block.header)(**{**{f: getattr(block.header, f) for f in
                                 block.header.__dataclass_fields__},
                              "state_root": b"\x42" * 32}),
        block.transactions)
    store = follower.store
    assert isinstance(store, MemoryBlockStore)
    rows_before = dict(store.rows)
    with pytest.raises(InvalidBlock, match="state root"):
        follower.append_block(forged)
    assert store.rows == rows_before and follower.head.height == 0
    follower.append_block(block)
    assert follower.head.state_root == block.header.state_root


def test_a_row_changed_behind_the_ledger_is_detected_on_open(genesis: Genesis) -> None:
    store = MemoryBlockStore()
    ledger = Ledger(store, genesis)
    ledger.admit(publication(genesis, genesis.preset.key(PUBLISHER), 0).raw)
    next_block(ledger)
    Ledger(store, genesis)  # an untouched store opens
    key = KEYS.member(genesis.preset.key(QUERIER).address)
    _, status, city, name = decode_row(store.rows[key], "iiib")
    store.rows[key] = ledger_row((15, status, city, name))
    with pytest.raises(InvalidBlock, match="table rows"):
        Ledger(store, genesis)
    del store.rows[key]
    with pytest.raises(InvalidBlock, match="table rows"):
        Ledger(store, genesis)


def ledger_row(fields: tuple[int | bytes, ...]) -> bytes:
    """A row as the engine encodes it."""
    from chain.engine.tables import encode_row

    row = encode_row(fields)
    assert row is not None
    return row


def test_the_root_commits_to_the_evm_root_and_the_table_set(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    commitment = load_commitment(ledger.store, ledger.head.state_root)
    assert commitment.evm_root != chain.execution.BLANK_ROOT_HASH  # the system contracts' code
    assert commitment.root == ledger.head.state_root
    assert ledger.account(genesis.contracts.registry).code == b"\xfe"
    ledger.admit(publication(genesis, genesis.preset.key(PUBLISHER), 0).raw)
    next_block(ledger)
    after = load_commitment(ledger.store, ledger.head.state_root)
    assert after.evm_root == commitment.evm_root and after.set_hash != commitment.set_hash
    stranger = derive_private_key(b"stranger")
    assert ledger.account(stranger.address).nonce == 0
