"""Multicall3 at its canonical address from genesis, running the published bytecode."""

from __future__ import annotations

from eth_abi.abi import decode, encode
from eth_account import Account
from eth_utils.crypto import keccak

from chain.execution import contract_address
from chain.ledger import Ledger
from chain.presets import Preset
from contracts import views
from contracts.predeployed import multicall3

AGGREGATE3 = keccak(text="aggregate3((address,bool,bytes)[])")[:4]
CANONICAL = bytes.fromhex("cA11bde05977b3631167028862bE2a173976CA11")


def test_the_bytecode_is_the_published_one_and_lands_at_the_canonical_address() -> None:
    deployment = multicall3()
    assert bytes.fromhex(Account.recover_transaction(deployment.signed_transaction)[2:]) == (
        deployment.deployer)
    assert deployment.address == CANONICAL
    assert contract_address(deployment.deployer, 0) == CANONICAL


def test_genesis_holds_multicall3_and_it_calls_the_system_contracts(ledger: Ledger,
                                                                    preset: Preset) -> None:
    code = ledger.account(CANONICAL).code
    assert code and code in multicall3().creation_code
    bureau = preset.key("bureau:hefei").address
    calls = [
        (ledger.contracts.consortium, False, views.encode_has_role(bureau, 1)),
        (ledger.contracts.consortium, False, views.encode_validator_count()),
        (ledger.contracts.registry, True, b"\x12\x34\x56\x78"),
    ]
    result = ledger.call(CANONICAL, AGGREGATE3 + encode(["(address,bool,bytes)[]"], [calls]))
    assert result.success, result.revert_reason
    (answers,) = decode(["(bool,bytes)[]"], result.output)
    assert answers[0][0] and views.decode_bool(answers[0][1]) is True
    assert answers[1][0] and views.decode_uint(answers[1][1]) == len(preset.nodes)
    assert answers[2][0] is False
