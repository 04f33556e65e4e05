"""The native executor: the ledger's `Executor` port over table state.

A block executes transaction by transaction on a `TableOverlay` over the committed rows: the
sender's nonce is used (accounts table), then a call to a system contract runs on its native
handler, and a successful call's row writes join the block while a reverted call's are dropped.
A deployment or a call to a member's contract runs on py-evm (`chain.execution.EvmSession`),
opened at the EVM account root only when a block holds one; there the system contracts answer
as precompiles at their addresses, views only, reading the block's pending rows.

The result carries the block's row changes, the trie nodes py-evm wrote, and the new state root
(`state_hash`), whose 96-byte preimage is stored under the root like a trie node. Reads
(`call_contract`, `read_account`) of the system contracts answer from the rows of the head: the
tables keep the latest state only, so a read at an older root sees the head's rows (members'
contracts are read at the root asked for, their trie nodes being kept).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from chain.crypto import Address
from chain.engine.abi import encode_revert
from chain.engine.context import CallContext, SystemAddresses
from chain.engine.dispatch import CallOutcome, call_system_contract, contract_at, function_of
from chain.engine.gas import gas_of_call
from chain.engine.limits import MEMBER_CALL_GAS_LIMIT
from chain.engine.state_hash import StateCommitment
from chain.engine.tables import KEYS, TableOverlay, TableReader, decode_row
from chain.execution import (
    AccountView,
    BlockEnvironment,
    CallResult,
    EvmSession,
    ExecutionResult,
    PrecompileOutcome,
    Receipt,
    StateSource,
    SystemContracts,
)
from chain.transactions import AdmittedTransaction

CALL_GAS_LIMIT = 50_000_000  # read-only calls of the system contracts
WRITES_FROM_TRANSACTIONS = "system contracts take writes from transactions only"


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


def is_member_contract(tables: TableReader, address: Address) -> bool:
    """Whether a member deployed a contract at `address`."""
    return tables.load_row(KEYS.member_contract(address)) is not None


def context_for(environment: BlockEnvironment, sender: Address,
                addresses: SystemAddresses, position: int = 0) -> CallContext:
    """A handler's view of a call in a block (`position`: its transaction's index there)."""
    return CallContext(sender, environment.height, environment.timestamp_ms // 1000,
                       environment.chain_id, addresses, position)


def system_contracts_for(tables: TableOverlay, environment: BlockEnvironment,
                         addresses: SystemAddresses) -> SystemContracts:
    """The native handlers as py-evm precompiles: views, on the block's pending rows."""
    def answer(sender: Address, to: Address, data: bytes, is_static: bool) -> PrecompileOutcome:
        context = context_for(environment, sender, addresses)
        contract = contract_at(context, to)
        function = function_of(contract, data) if contract is not None else None
        if function is None or contract is None:
            return PrecompileOutcome(False, b"", gas_of_call(None, data, transaction=False))
        if function.changes_state:
            return PrecompileOutcome(False, encode_revert(WRITES_FROM_TRANSACTIONS),
                                     gas_of_call(None, data, transaction=False))
        outcome = call_system_contract(tables, context, to, data, CALL_GAS_LIMIT,
                                       transaction=False)
        return PrecompileOutcome(outcome.success, outcome.output, outcome.gas_used)

    return answer


def execute_transaction(tables: TableOverlay, environment: BlockEnvironment,
                        addresses: SystemAddresses, sender: Address, nonce: int, gas: int,
                        to: Address, value: int, data: bytes, position: int = 0) -> CallOutcome:
    """Use the sender's nonce, then run a system-contract call and settle the overlay."""
    tables.write(KEYS.account(sender), (nonce + 1,))  # used whatever the outcome
    tables.commit_transaction()
    if value:  # the contracts' functions are nonpayable (and admission refuses value)
        outcome = CallOutcome(False, b"", (), min(gas, gas_of_call(None, data)), None)
    else:
        outcome = call_system_contract(
            tables, context_for(environment, sender, addresses, position), to, data, gas)
    if outcome.success:
        tables.commit_transaction()
    else:
        tables.discard_transaction()
    return outcome


class NativeExecutor:
    """`chain.execution.Executor` for the system contracts over table state."""

    def __init__(self, addresses: SystemAddresses) -> None:
        self.addresses = addresses
        self.address_list = (addresses.consortium, addresses.registry, addresses.authorization)

    def _is_system(self, to: Address) -> bool:
        return to in self.address_list

    def execute_block(self, source: StateSource, parent_state_root: bytes,
                      environment: BlockEnvironment,
                      transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        """Execute a block's transactions in order; the row changes and the new root."""
        with _row_session(source) as reader:
            return self._execute_block(source, reader, parent_state_root, environment,
                                       transactions)

    def _execute_block(self, source: StateSource, reader: TableReader, parent_state_root: bytes,
                       environment: BlockEnvironment,
                       transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        tables = TableOverlay(reader)
        parent = load_commitment(source, parent_state_root)
        session: EvmSession | None = None
        receipts: list[Receipt] = []
        cumulative = 0
        for position, admitted in enumerate(transactions):
            tx = admitted.transaction
            if self._is_system(tx.to):
                outcome = execute_transaction(tables, environment, self.addresses,
                                              admitted.sender, tx.nonce, tx.gas, tx.to, tx.value,
                                              tx.data, position)
                receipt = Receipt(
                    transaction_hash=tx.hash, status=1 if outcome.success else 0,
                    gas_used=outcome.gas_used, cumulative_gas_used=cumulative + outcome.gas_used,
                    logs=outcome.logs, revert_reason=outcome.revert_reason)
            else:
                if session is None:
                    session = EvmSession(source, parent.evm_root, environment,
                                         system_contracts_for(tables, environment,
                                                              self.addresses),
                                         self.address_list)
                tables.write(KEYS.account(admitted.sender), (tx.nonce + 1,))
                receipt, created = session.apply(admitted.sender, tx.nonce, tx.gas, tx.to,
                                                 tx.data, tx.hash, cumulative)
                if created is not None:
                    tables.write(KEYS.member_contract(created), (admitted.sender,))
                tables.commit_transaction()
            cumulative = receipt.cumulative_gas_used
            receipts.append(receipt)
        evm_root, nodes = session.finish() if session is not None else (parent.evm_root, {})
        return finish_block(parent, tables, tuple(receipts), evm_root, nodes)

    def _session(self, source: StateSource, state_root: bytes,
                 environment: BlockEnvironment) -> EvmSession:
        tables = TableOverlay(_tables_of(source))
        return EvmSession(source, load_commitment(source, state_root).evm_root, environment,
                          system_contracts_for(tables, environment, self.addresses),
                          self.address_list)

    def call_contract(self, source: StateSource, state_root: bytes,
                      environment: BlockEnvironment, sender: Address, to: Address,
                      data: bytes) -> CallResult:
        """A read-only call; a system contract's without py-evm. Nothing is written."""
        if not self._is_system(to):
            return self._session(source, state_root, environment).call(
                sender, to, data, MEMBER_CALL_GAS_LIMIT)
        tables = TableOverlay(_tables_of(source))
        outcome = call_system_contract(tables, context_for(environment, sender, self.addresses),
                                       to, data, CALL_GAS_LIMIT)
        return CallResult(outcome.success, outcome.output, outcome.gas_used,
                          outcome.revert_reason)

    def read_account(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address) -> AccountView:
        """An account's nonce, and its code when it is a contract (no balances)."""
        tables = _tables_of(source)
        code = b""
        if self._is_system(address) or is_member_contract(tables, address):
            code = self._session(source, state_root, environment).code(address)
        return AccountView(nonce=load_nonce(tables, address), balance=0, code=code)

    def read_storage(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address, slot: int) -> int:
        """A storage slot of a member's contract (the system contracts keep rows, not slots)."""
        return self._session(source, state_root, environment).storage(address, slot)


def finish_block(parent: StateCommitment, tables: TableOverlay,
                 receipts: tuple[Receipt, ...], evm_root: bytes,
                 evm_nodes: Mapping[bytes, bytes] | None = None) -> ExecutionResult:
    """The block's result: its row changes, trie nodes and the root after them."""
    changes = dict(tables.block)
    previous = {key: tables.load_committed(key) for key in changes}
    commitment = parent.after(changes, previous, evm_root)
    nodes = dict(evm_nodes or {})
    nodes[commitment.root] = commitment.encode()
    return ExecutionResult(state_root=commitment.root, receipts=receipts, state_nodes=nodes,
                           table_rows=changes)


@contextmanager
def _row_session(source: StateSource) -> Iterator[TableReader]:
    """The source's rows for one block's execution: through one read transaction when the
    store offers it (`row_session`), else row by row."""
    session = getattr(source, "row_session", None)
    if session is None:
        yield _tables_of(source)
        return
    with session() as reader:
        yield reader


def _tables_of(source: StateSource) -> TableReader:
    """The rows of a state source: the native engine needs a store that keeps tables too."""
    if not hasattr(source, "load_row"):
        raise TypeError(f"{type(source).__name__} holds no tables: the native engine needs a "
                        "store with load_row")
    return source  # type: ignore[return-value]
