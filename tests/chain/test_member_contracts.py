"""Members' own contracts under the native engine: deploy, call, read the system contracts.

The probe contract (`member_contracts/Probe.vy`) reads Consortium and CreditRegistry views
through the precompiles, tries to publish through the registry (refused: system contracts take
writes from transactions only), and has a loop that would run forever without a gas cap.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import vyper
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from chain.blocks import transactions_root
from chain.engine.limits import MEMBER_BLOCK_GAS_LIMIT, MEMBER_TRANSACTION_GAS_LIMIT
from chain.errors import InvalidBlock, MissingRole, UnsupportedTransaction
from chain.execution import contract_address
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.transactions import MAX_TRANSACTION_GAS
from chain.wallet import sign_legacy
from contracts import bindings
from tests.chain.ledger_helpers import fresh_ledger, next_block, publication

PROBE = Path(__file__).with_name("member_contracts") / "Probe.vy"
DEPLOYER = "bureau:shanghai"
QUERIER = "bank:shanghai"
GAS = 2_000_000


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _probe_code(genesis: Genesis) -> bytes:
    output = vyper.compile_code(PROBE.read_text(encoding="utf-8"), output_formats=["bytecode"])
    return bytes.fromhex(output["bytecode"][2:]) + encode(
        ["address", "address"], [genesis.contracts.consortium, genesis.contracts.registry])


def _deploy(ledger: Ledger, label: str = DEPLOYER, nonce: int = 0) -> bytes:
    genesis = ledger.genesis
    key = genesis.preset.key(label)
    ledger.admit(sign_legacy(key, genesis.chain_id, nonce, b"", _probe_code(genesis), gas=GAS))
    (receipt,) = next_block(ledger).receipts
    assert receipt.status == 1, receipt.revert_reason
    return contract_address(key.address, nonce)


def _transact(ledger: Ledger, label: str, nonce: int, to: bytes, data: bytes,
              gas: int = GAS) -> bytes:
    genesis = ledger.genesis
    return sign_legacy(genesis.preset.key(label), genesis.chain_id, nonce, to, data, gas=gas)


def test_a_publisher_deploys_and_the_contract_reads_the_system_contracts(
        genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    probe = _deploy(ledger)
    assert ledger.account(probe).code
    publisher = genesis.preset.key(DEPLOYER).address
    querier = genesis.preset.key(QUERIER).address
    call = ledger.call(probe, _selector("is_publisher(address)") + encode(["address"], [publisher]))
    assert call.success and bindings.decode_bool(call.output)
    call = ledger.call(probe, _selector("is_publisher(address)") + encode(["address"], [querier]))
    assert call.success and not bindings.decode_bool(call.output)
    # A transaction sees the rows of the transactions before it in the same block.
    enterprise = genesis.preset.enterprises[0].credit_code.to_bytes32()
    ledger.admit(publication(genesis, genesis.preset.key(DEPLOYER), 1).raw)
    ledger.admit(_transact(ledger, QUERIER, 0, probe,
                           _selector("count_if_publisher(address)")
                           + encode(["address"], [publisher])))
    receipts = next_block(ledger).receipts
    assert [r.status for r in receipts] == [1, 1]
    checks = ledger.call(probe, _selector("checks()"))
    assert bindings.decode_uint(checks.output) == 1
    count = ledger.call(probe, _selector("records_of(bytes32)") + encode(["bytes32"], [enterprise]))
    assert bindings.decode_uint(count.output) == 1


def test_same_blocks_with_member_contracts_give_the_same_roots(genesis: Genesis) -> None:
    first = fresh_ledger(genesis)
    probe = _deploy(first)
    first.admit(_transact(first, QUERIER, 0, probe, _selector("count_if_publisher(address)")
                          + encode(["address"], [genesis.preset.key(DEPLOYER).address])))
    next_block(first)
    second = fresh_ledger(genesis)
    for height in range(1, first.head.height + 1):
        second.append_block(first.block(height))
    assert second.head == first.head
    assert second.account(probe).code == first.account(probe).code


def test_a_contract_cannot_write_through_a_system_contract(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    probe = _deploy(ledger)
    enterprise = genesis.preset.enterprises[0].credit_code.to_bytes32()
    ledger.admit(_transact(ledger, DEPLOYER, 1, probe, _selector("publish_through(bytes32)")
                           + encode(["bytes32"], [enterprise])))
    (receipt,) = next_block(ledger).receipts
    assert receipt.status == 0 and receipt.logs == ()
    count = ledger.call(genesis.contracts.registry, bindings.encode_record_count(enterprise))
    assert bindings.decode_uint(count.output) == 0


def test_an_institution_without_the_role_cannot_deploy(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    key = genesis.preset.key(QUERIER)
    raw = sign_legacy(key, genesis.chain_id, 0, b"", _probe_code(genesis), gas=GAS)
    with pytest.raises(MissingRole, match="deploying a contract needs"):
        ledger.admit(raw)


def test_calls_to_unknown_addresses_are_refused(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    with pytest.raises(UnsupportedTransaction, match="contract a member deployed"):
        ledger.admit(_transact(ledger, DEPLOYER, 0, b"\x42" * 20, b""))


def test_a_gas_bomb_is_refused_above_the_cap_and_bounded_below_it(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    probe = _deploy(ledger)
    with pytest.raises(UnsupportedTransaction, match="above"):
        ledger.admit(_transact(ledger, DEPLOYER, 1, probe, _selector("spin()"),
                               gas=MEMBER_TRANSACTION_GAS_LIMIT + 1))
    ledger.admit(_transact(ledger, DEPLOYER, 1, probe, _selector("spin()"),
                           gas=MEMBER_TRANSACTION_GAS_LIMIT))
    (receipt,) = next_block(ledger).receipts
    assert receipt.status == 0 and receipt.gas_used == MEMBER_TRANSACTION_GAS_LIMIT
    call = ledger.call(probe, _selector("spin()"))
    assert not call.success


def test_a_block_holds_at_most_the_member_gas_budget(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    probe = _deploy(ledger)
    per_block = MEMBER_BLOCK_GAS_LIMIT // MEMBER_TRANSACTION_GAS_LIMIT
    data = _selector("count_if_publisher(address)") + encode(["address"], [probe])
    raws = [_transact(ledger, DEPLOYER, 1 + i, probe, data, gas=MEMBER_TRANSACTION_GAS_LIMIT)
            for i in range(per_block + 1)]
    for raw in raws:
        ledger.admit(raw)
    block = ledger.build_block(ledger.head.timestamp_ms + 1_000, "shanghai-1")
    assert len(block.transactions) == per_block
    header = replace(block.header, transactions_root=transactions_root(raws))
    crowded = type(block)(header, tuple(raws))
    follower = fresh_ledger(genesis)
    follower.append_block(ledger.block(1))
    with pytest.raises(InvalidBlock, match="members' contracts declare"):
        follower.validate_block(crowded)


def test_an_initcode_above_the_eip3860_limit_fails_without_stopping_the_block(
        genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    key = genesis.preset.key(DEPLOYER)
    ledger.admit(sign_legacy(key, genesis.chain_id, 0, b"", b"\x60\x00" * 25_000, gas=GAS))
    ledger.admit(publication(genesis, key, 1).raw)
    first, second = next_block(ledger).receipts
    assert first.status == 0 and first.gas_used == GAS
    assert first.revert_reason is not None and "EIP-3860" in first.revert_reason
    assert second.status == 1
    assert ledger.account(key.address).nonce == 2


def test_the_gas_cap_an_estimate_respects(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    assert ledger.gas_cap(b"") == MEMBER_TRANSACTION_GAS_LIMIT
    assert ledger.gas_cap(genesis.contracts.registry) == MAX_TRANSACTION_GAS
