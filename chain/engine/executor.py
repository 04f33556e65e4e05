"""The native executor: the ledger's `Executor` port over table state, without py-evm.

A block executes transaction by transaction on a `TableOverlay` over the committed rows: the
sender's nonce is used (accounts table), the call runs on the system contract's handler, and a
successful call's row writes join the block while a reverted call's are dropped. The result
carries the block's row changes and the new state root (`state_hash`), whose 96-byte preimage is
stored under the root with the block, like a trie node. Reads (`call_contract`, `read_account`)
answer from the rows of the head: the tables keep the latest state only, so a read at an older
root is answered at the head.

Members' own contracts are not executed here yet: a transaction to any other address fails with
`NO_MEMBER_CONTRACTS`, and admission refuses such transactions before they reach a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chain.crypto import Address
from chain.engine.abi import encode_revert
from chain.engine.context import CallContext, SystemAddresses
from chain.engine.dispatch import CallOutcome, call_system_contract, contract_at
from chain.engine.gas import calldata_gas, gas_of_call
from chain.engine.state_hash import StateCommitment
from chain.engine.tables import KEYS, TableOverlay, TableReader, decode_row
from chain.execution import (
    AccountView,
    BlockEnvironment,
    CallResult,
    ExecutionResult,
    Receipt,
    StateSource,
)
from chain.transactions import AdmittedTransaction

CALL_GAS_LIMIT = 50_000_000  # read-only calls, as for py-evm
NO_MEMBER_CONTRACTS = "the native engine runs the system contracts only"
PAYABLE_REFUSAL = None  # a call carrying value reverts without a reason (nonpayable functions)


class TableSource(StateSource, TableReader, Protocol):
    """The committed state the native engine reads: state commitments and rows."""


def load_commitment(source: StateSource, state_root: bytes) -> StateCommitment:
    """The parts of a committed native state root."""
    preimage = source.load_state_node(state_root)
    if preimage is None:
        raise ValueError(f"no state commitment under root 0x{state_root.hex()[:16]}…")
    return StateCommitment.decode(preimage)


def load_nonce(tables: TableReader, address: Address) -> int:
    """An account's next nonce."""
    raw = tables.load_row(KEYS.account(address))
    return 0 if raw is None else int(decode_row(raw, "i")[0])


def context_for(environment: BlockEnvironment, sender: Address,
                addresses: SystemAddresses) -> CallContext:
    """A handler's view of a call in a block."""
    return CallContext(sender, environment.height, environment.timestamp_ms // 1000,
                       environment.chain_id, addresses)


def execute_transaction(tables: TableOverlay, environment: BlockEnvironment,
                        addresses: SystemAddresses, sender: Address, nonce: int, gas: int,
                        to: Address, value: int, data: bytes) -> CallOutcome:
    """Use the sender's nonce, then run the call on the overlay's transaction and settle it."""
    tables.write(KEYS.account(sender), (nonce + 1,))  # used whatever the outcome
    tables.commit_transaction()
    if contract_at(context_for(environment, sender, addresses), to) is None:
        used = min(gas, gas_of_call(None, data))
        outcome = CallOutcome(False, encode_revert(NO_MEMBER_CONTRACTS), (), used,
                              NO_MEMBER_CONTRACTS)
    elif value:
        outcome = CallOutcome(False, b"", (), min(gas, gas_of_call(None, data)), PAYABLE_REFUSAL)
    else:
        outcome = call_system_contract(tables, context_for(environment, sender, addresses), to,
                                       data, gas)
    if outcome.success:
        tables.commit_transaction()
    else:
        tables.discard_transaction()
    return outcome


class NativeExecutor:
    """`chain.execution.Executor` for the system contracts over table state."""

    def __init__(self, addresses: SystemAddresses) -> None:
        self.addresses = addresses

    def execute_block(self, source: StateSource, parent_state_root: bytes,
                      environment: BlockEnvironment,
                      transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        """Execute a block's transactions in order; the row changes and the new root."""
        tables = TableOverlay(_tables_of(source))
        receipts: list[Receipt] = []
        cumulative = 0
        for admitted in transactions:
            tx = admitted.transaction
            outcome = execute_transaction(tables, environment, self.addresses, admitted.sender,
                                          tx.nonce, tx.gas, tx.to, tx.value, tx.data)
            cumulative += outcome.gas_used
            receipts.append(Receipt(
                transaction_hash=tx.hash, status=1 if outcome.success else 0,
                gas_used=outcome.gas_used, cumulative_gas_used=cumulative, logs=outcome.logs,
                revert_reason=outcome.revert_reason))
        return finish_block(source, parent_state_root, tables, tuple(receipts))

    def call_contract(self, source: StateSource, state_root: bytes,
                      environment: BlockEnvironment, sender: Address, to: Address,
                      data: bytes) -> CallResult:
        """A read-only call at the head's rows; nothing is written."""
        tables = TableOverlay(_tables_of(source))
        context = context_for(environment, sender, self.addresses)
        if contract_at(context, to) is None:
            return CallResult(True, b"", gas_of_call(None, data), None)
        outcome = call_system_contract(tables, context, to, data, CALL_GAS_LIMIT)
        return CallResult(outcome.success, outcome.output, outcome.gas_used,
                          outcome.revert_reason)

    def read_account(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address) -> AccountView:
        """An account's nonce (no balances, no code under the native engine)."""
        return AccountView(nonce=load_nonce(_tables_of(source), address), balance=0, code=b"")

    def estimate_gas(self, source: StateSource, environment: BlockEnvironment, sender: Address,
                     to: Address, data: bytes) -> int:
        """The exact gas a transaction would use (its schedule price; see `gas`)."""
        return self.call_contract(source, b"", environment, sender, to, data).gas_used


def finish_block(source: StateSource, parent_state_root: bytes, tables: TableOverlay,
                 receipts: tuple[Receipt, ...]) -> ExecutionResult:
    """The block's result: its row changes and the root after them."""
    reader = _tables_of(source)
    changes = dict(tables.block)
    previous = {key: reader.load_row(key) for key in changes}
    parent = load_commitment(source, parent_state_root)
    commitment = parent.after(changes, previous, parent.evm_root)
    return ExecutionResult(
        state_root=commitment.root, receipts=receipts,
        state_nodes={commitment.root: commitment.encode()}, table_rows=changes,
    )


def _tables_of(source: StateSource) -> TableReader:
    if not hasattr(source, "load_row"):
        raise TypeError(f"{type(source).__name__} holds no tables: the native engine needs a "
                        "store with load_row")
    return source  # type: ignore[return-value]


__all__ = ["CALL_GAS_LIMIT", "NativeExecutor", "calldata_gas", "execute_transaction",
           "finish_block", "load_commitment"]
