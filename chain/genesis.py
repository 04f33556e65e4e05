"""Genesis: the block at height 0 and the state it starts from, built from a preset.

The regulator's account deploys `Consortium`, `CreditRegistry` and `Authorization` (nonces 0,
1, 2), admits every institution and node operator of the preset, registers every validator
node's Ed25519 key, and registers the demo enterprises' keys. Last, Multicall3's keyless deployer
runs its published creation code at nonce 0, so Multicall3 sits at its canonical address as on
every other chain (`contracts/predeployed`). These calls run unsigned (there is
no earlier state to admit them against) and are the same on every node, so every node computes
the same genesis state root and block hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.blocks import GENESIS_PARENT_HASH, Block, BlockHeader, transactions_root
from chain.codec import encode_receipt
from chain.crypto import Address
from chain.engine import ENGINES, EVM_ENGINE, NATIVE_ENGINE
from chain.engine.context import SystemAddresses
from chain.engine.genesis import execute_genesis
from chain.execution import (
    BLANK_ROOT_HASH,
    BlockEnvironment,
    EmptyStateSource,
    ExecutionResult,
    SystemCall,
    contract_address,
    execute_system_calls,
)
from chain.merkle import merkle_root
from chain.presets import Preset
from contracts import bindings
from contracts.predeployed import multicall3

GENESIS_PROPOSER = "genesis"
__all__ = ["ENGINES", "EVM_ENGINE", "GENESIS_PROPOSER", "NATIVE_ENGINE", "ContractAddresses",
           "Genesis", "build_genesis", "genesis_calls", "system_addresses"]


@dataclass(frozen=True, slots=True)
class ContractAddresses:
    """Where genesis deployed the contracts."""

    consortium: Address
    registry: Address
    authorization: Address

    def name_of(self, address: Address) -> str | None:
        """The contract name at an address, or None."""
        return {
            self.consortium: "Consortium",
            self.registry: "CreditRegistry",
            self.authorization: "Authorization",
        }.get(address)

    def address_of(self, name: str) -> Address:
        """The address of a contract by name."""
        return {
            "Consortium": self.consortium,
            "CreditRegistry": self.registry,
            "Authorization": self.authorization,
        }[name]


@dataclass(frozen=True, slots=True)
class Genesis:
    """The genesis block, its execution result and what the ledger needs to know of it."""

    preset: Preset
    block: Block
    result: ExecutionResult
    contracts: ContractAddresses
    regulator: Address
    engine: str = NATIVE_ENGINE

    @property
    def chain_id(self) -> int:
        """The chain id transactions must be signed for."""
        return self.preset.chain_id


def genesis_calls(preset: Preset, regulator: Address,
                  contracts: ContractAddresses) -> list[SystemCall]:
    """The unsigned calls that build the genesis state, in order."""
    calls = [
        SystemCall(regulator, None, bindings.deploy_code(bindings.load_artifact("Consortium"))),
        SystemCall(regulator, None, bindings.deploy_code(
            bindings.load_artifact("CreditRegistry"), contracts.consortium,
            preset.dispute_window_blocks)),
        SystemCall(regulator, None, bindings.deploy_code(
            bindings.load_artifact("Authorization"), contracts.consortium)),
    ]
    for institution in preset.institutions:
        if institution.label == "regulator":
            continue
        account = preset.key(institution.label).address
        calls.append(SystemCall(regulator, contracts.consortium, bindings.encode_admit(
            account, institution.roles, institution.city.number, institution.name)))
    for node in preset.nodes:
        calls.append(SystemCall(regulator, contracts.consortium, bindings.encode_add_validator(
            preset.node_public_key(node.node_id), node.city.number)))
    for enterprise in preset.enterprises:
        calls.append(SystemCall(regulator, contracts.authorization,
                                bindings.encode_register_enterprise(
                                    enterprise.credit_code.to_bytes32(),
                                    preset.key(enterprise.label).address)))
    calls.append(SystemCall(multicall3().deployer, None, multicall3().creation_code))
    return calls


def build_genesis(preset: Preset, engine: str = NATIVE_ENGINE) -> Genesis:
    """Execute the genesis calls on an engine and build block 0.

    Every node of a network must use the same engine: the state roots differ between them.
    """
    if engine not in ENGINES:
        raise ValueError(f"execution engine {engine!r}, expected one of {', '.join(ENGINES)}")
    regulator = preset.key("regulator").address
    contracts = ContractAddresses(
        consortium=contract_address(regulator, 0),
        registry=contract_address(regulator, 1),
        authorization=contract_address(regulator, 2),
    )
    environment = BlockEnvironment(
        height=0, timestamp_ms=preset.genesis_timestamp_ms, coinbase=b"\0" * 20,
        chain_id=preset.chain_id,
    )
    calls = genesis_calls(preset, regulator, contracts)
    if engine == NATIVE_ENGINE:
        result = execute_genesis(calls, system_addresses(contracts), environment,
                                 preset.dispute_window_blocks)
    else:
        result = execute_system_calls(EmptyStateSource(), BLANK_ROOT_HASH, environment, calls)
    header = BlockHeader(
        height=0,
        parent_hash=GENESIS_PARENT_HASH,
        timestamp_ms=preset.genesis_timestamp_ms,
        proposer=GENESIS_PROPOSER,
        transactions_root=transactions_root(()),
        state_root=result.state_root,
        receipts_root=merkle_root([encode_receipt(r) for r in result.receipts]),
        gas_used=result.gas_used,
    )
    return Genesis(preset, Block(header, ()), result, contracts, regulator, engine)


def system_addresses(contracts: ContractAddresses) -> SystemAddresses:
    """The engine's view of the contract addresses."""
    return SystemAddresses(contracts.consortium, contracts.registry, contracts.authorization)
