"""Genesis under the native engine: the same calls as the Vyper deployment, run on the tables.

The first three deployments of `chain.genesis.genesis_calls` become the handlers' constructors (the
Consortium's deployer is the regulator; the CreditRegistry keeps the dispute window); every
other call runs as a transaction of the regulator. Nonces advance as py-evm would advance them,
so the regulator's first signed transaction has the same nonce under either engine.

The EVM account state starts with `SYSTEM_CONTRACT_CODE` at the three addresses: members'
contracts compiled with an `extcodesize` check before each call (Vyper's, Solidity's) see a
contract there, and the precompile answers before that code could run. This is the one time the
native engine opens py-evm without a member's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.engine import consortium, registry
from chain.engine import set_hash as lthash
from chain.engine.context import SystemAddresses
from chain.engine.executor import (
    context_for,
    execute_transaction,
    finish_block,
    load_nonce,
    system_contracts_for,
)
from chain.engine.gas import gas_of_call
from chain.engine.state_hash import EMPTY_CHAIN, StateCommitment
from chain.engine.tables import KEYS, TableOverlay
from chain.execution import (
    BLANK_ROOT_HASH,
    BlockEnvironment,
    EvmSession,
    ExecutionResult,
    Log,
    Receipt,
    SystemCall,
)

EMPTY_COMMITMENT = StateCommitment(EMPTY_CHAIN, lthash.empty(), BLANK_ROOT_HASH)
"""The state before genesis: no change yet, no row, no account."""
SYSTEM_CONTRACT_CODE = b"\xfe"
SYSTEM_DEPLOYMENTS = 3
"""Consortium, CreditRegistry, Authorization: the first three deployments become handlers; any
later genesis deployment (Multicall3 at its canonical address) runs its creation code on py-evm."""
"""The code at the system contracts' addresses: INVALID, never run (the precompile answers)."""


class _BeforeGenesis:
    """A source holding nothing but the empty commitment."""

    def load_state_node(self, key: bytes) -> bytes | None:
        return EMPTY_COMMITMENT.encode() if key == EMPTY_COMMITMENT.root else None

    def load_row(self, key: bytes) -> bytes | None:
        return None


def execute_genesis(calls: Sequence[SystemCall], addresses: SystemAddresses,
                    environment: BlockEnvironment, dispute_window: int) -> ExecutionResult:
    """Run the genesis calls natively; ValueError if one is refused."""
    source = _BeforeGenesis()
    tables = TableOverlay(source)
    session = EvmSession(source, BLANK_ROOT_HASH, environment,
                         system_contracts_for(tables, environment, addresses),
                         (addresses.consortium, addresses.registry, addresses.authorization))
    for address in (addresses.consortium, addresses.registry, addresses.authorization):
        session.install_code(address, SYSTEM_CONTRACT_CODE)
    receipts: list[Receipt] = []
    cumulative = 0
    deployments = 0
    for position, call in enumerate(calls):
        nonce = load_nonce(tables, call.sender)
        if call.to is None and deployments >= SYSTEM_DEPLOYMENTS:
            receipt, created = session.apply(call.sender, nonce, call.gas, b"", call.data,
                                             position.to_bytes(32, "big"), cumulative)
            tables.write(KEYS.account(call.sender), (nonce + 1,))
            if created is not None:
                tables.write(KEYS.member_contract(created), (call.sender,))
            tables.commit_transaction()
            logs, gas = receipt.logs, receipt.gas_used
            success, reason = receipt.status == 1, receipt.revert_reason
        elif call.to is None:
            logs = _construct(tables, environment, addresses, call.sender, deployments, nonce,
                              dispute_window)
            deployments += 1
            gas, success, reason = gas_of_call(None, call.data), True, None
        else:
            outcome = execute_transaction(tables, environment, addresses, call.sender, nonce,
                                          call.gas, call.to, 0, call.data, position)
            logs, gas = outcome.logs, outcome.gas_used
            success, reason = outcome.success, outcome.revert_reason
        if not success:
            raise ValueError(f"genesis call {position} reverted: {reason}")
        cumulative += gas
        receipts.append(Receipt(position.to_bytes(32, "big"), 1, gas, cumulative, logs))
    evm_root, nodes = session.finish()
    return finish_block(EMPTY_COMMITMENT, tables, tuple(receipts), evm_root, nodes)


def _construct(tables: TableOverlay, environment: BlockEnvironment, addresses: SystemAddresses,
               sender: bytes, deployment: int, nonce: int,
               dispute_window: int) -> tuple[Log, ...]:
    tables.write(KEYS.account(sender), (nonce + 1,))
    context = context_for(environment, sender, addresses)
    if deployment == 0:
        logs = consortium.construct(tables, context).logs
    elif deployment == 1:
        logs = registry.construct(tables, dispute_window).logs
    elif deployment == 2:
        logs = ()  # Authorization's constructor only keeps the Consortium's address
    else:
        raise ValueError("genesis deploys three contracts; a fourth has no native handler")
    tables.commit_transaction()
    return logs
