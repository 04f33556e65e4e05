"""Contract execution on py-evm: the only module of the project that imports `eth`.

Dataclasses in, dataclasses out. A block executes as one batch on one py-evm state: every
transaction is applied in order, then the tries are hashed and written once (`persist`), never
per transaction (which would rebuild the tries each time: ~30 tx/s instead of ~500).

Signatures are never checked here. The node verified each sender once at admission; py-evm gets
an unsigned transaction with that sender spoofed in (what `eth_call` does), so its `sender`
property costs nothing and its `validate()` recovers nothing.

Fees are not charged (ADR 0001): transactions execute at gas price 0 whatever they offered, with
base fee 0, so accounts need no balance and the chain carries no currency.

State lives as trie nodes keyed by their hash. Execution reads them through `StateSource` (the
node's store) and returns the nodes it created in `ExecutionResult.state_nodes`, which the
ledger persists atomically with the block.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import eth_hash.auto
from eth import EVM_RECURSION_LIMIT
from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth.exceptions import Revert, VMError
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.forks.shanghai.state import ShanghaiState
from eth.vm.spoof import SpoofTransaction
from eth_hash.backends import pysha3
from eth_typing import Address as EvmAddress
from eth_typing import BlockNumber, Hash32
from eth_utils.exceptions import ValidationError

from chain.crypto import Address
from chain.transactions import AdmittedTransaction

BLANK_ROOT_HASH = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
BLOCK_GAS_LIMIT = 300_000_000  # room for a 500-transaction block of batch publishes
CALL_GAS_LIMIT = 50_000_000  # read-only calls (eth_call, report queries)
REFUND_QUOTIENT = 5  # EIP-3529
_TRANSACTION_BUILDER: Any = ShanghaiVM.get_transaction_builder()

# py_ecc (imported by py-evm's precompiles) raises the interpreter's recursion limit to 100,000
# when imported; deep recursion in C code (a JSON decoder fed nested brackets) then overflows the
# C stack before Python notices. Execution needs py-evm's own figure (1,024 call frames): set it
# once, here, after the imports that change it.
sys.setrecursionlimit(EVM_RECURSION_LIMIT)

# py-evm hashes every trie node through eth_hash; its automatic choice is pycryptodome (~10 µs a
# hash). safe-pysha3 is a dependency of the project and is five times faster.
eth_hash.auto.keccak._backend = pysha3.backend


class StateSource(Protocol):
    """Where execution reads trie nodes and contract code that are already committed."""

    def load_state_node(self, key: bytes) -> bytes | None:
        """The node (or code) stored under its hash, or None."""


@dataclass(frozen=True, slots=True)
class Log:
    """An event a contract emitted."""

    address: Address
    topics: tuple[bytes, ...]
    data: bytes
    event: Any = field(default=None, compare=False, repr=False)
    """The typed event (`contracts.bindings.Event`) a native handler encoded into this log, so
    the commit need not decode it back; None for logs py-evm or the codec produced. Not part
    of the log's value: equality, receipts and their encoding ignore it."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one transaction in a block.

    status: 1 when the call succeeded, 0 when it reverted (a reverted call still uses its nonce).
    gas_used: gas of this transaction; cumulative_gas_used: of the block so far.
    revert_reason: the contract's reason when it reverted, if it gave one.
    """

    transaction_hash: bytes
    status: int
    gas_used: int
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    revert_reason: str | None = None


@dataclass(frozen=True, slots=True)
class BlockEnvironment:
    """What a block's transactions can see of the block."""

    height: int
    timestamp_ms: int
    coinbase: Address
    chain_id: int
    gas_limit: int = BLOCK_GAS_LIMIT


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """A block's effect: the new state root, receipts, the trie nodes and table rows it wrote.

    table_rows: the native engine's row changes (key -> row, None when the row is emptied);
    empty under py-evm.
    """

    state_root: bytes
    receipts: tuple[Receipt, ...]
    state_nodes: Mapping[bytes, bytes]
    table_rows: Mapping[bytes, bytes | None] = field(default_factory=dict)

    @property
    def gas_used(self) -> int:
        """Gas of the whole block."""
        return self.receipts[-1].cumulative_gas_used if self.receipts else 0


@dataclass(frozen=True, slots=True)
class CallResult:
    """The outcome of a read-only call."""

    success: bool
    output: bytes
    gas_used: int
    revert_reason: str | None


@dataclass(frozen=True, slots=True)
class SystemCall:
    """A call or deployment made at genesis by an account, without a signature."""

    sender: Address
    to: Address | None
    data: bytes
    gas: int = 30_000_000


class _OverlayDatabase(BaseDB):
    """Reads committed nodes from a source; keeps every write in memory for the ledger."""

    def __init__(self, source: StateSource) -> None:
        self.source = source
        self.written: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.written.get(key)
        if value is None:
            value = self.source.load_state_node(key)
            if value is None:
                raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.written[key] = value

    def _exists(self, key: bytes) -> bool:
        return key in self.written or self.source.load_state_node(key) is not None

    def __delitem__(self, key: bytes) -> None:
        # Tries are persisted with apply_deletes=False: nodes are never removed.
        self.written.pop(key, None)

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("the state overlay is not iterable")

    def __len__(self) -> int:
        return len(self.written)


class EmptyStateSource:
    """A source with no nodes: the parent of genesis."""

    def load_state_node(self, key: bytes) -> bytes | None:
        """Nothing is stored."""
        return None


@dataclass(frozen=True, slots=True)
class PrecompileOutcome:
    """What a system contract answered an EVM call: success, return or revert data, gas."""

    success: bool
    output: bytes
    gas: int


SystemContracts = Callable[[Address, Address, bytes, bool], PrecompileOutcome]
"""(sender, contract, calldata, is_static) -> outcome: the native handlers as precompiles."""


def _system_precompile(computation: Any) -> None:
    message = computation.msg
    outcome = computation.state.system_contracts(
        bytes(message.sender), bytes(message.code_address), bytes(message.data_as_bytes),
        bool(message.is_static))
    computation.consume_gas(outcome.gas, reason="system contract")
    computation.output = outcome.output
    if not outcome.success:
        raise Revert(outcome.output)


class _MemberComputation(ShanghaiComputation):
    """Shanghai, plus the system contracts as precompiles at their addresses."""

    @property
    def precompiles(self) -> dict[Any, Any]:
        found: dict[Any, Any] = {**ShanghaiComputation._precompiles,
                                 **{address: _system_precompile
                                    for address in getattr(self.state, "system_addresses", ())}}
        return found


class _MemberState(ShanghaiState):
    """A Shanghai state whose calls reach the system contracts through `system_contracts`."""

    computation_class = _MemberComputation
    system_addresses: tuple[bytes, ...] = ()
    system_contracts: SystemContracts | None = None


def _open_state(
    source: StateSource, state_root: bytes, environment: BlockEnvironment,
    system_contracts: SystemContracts | None = None,
    system_addresses: Sequence[Address] = (),
) -> tuple[ShanghaiState, _OverlayDatabase]:
    overlay = _OverlayDatabase(source)
    context = ExecutionContext(
        coinbase=EvmAddress(environment.coinbase),
        timestamp=environment.timestamp_ms // 1000,
        block_number=BlockNumber(environment.height),
        difficulty=0,
        mix_hash=Hash32(b"\0" * 32),
        gas_limit=environment.gas_limit,
        prev_hashes=(),
        chain_id=environment.chain_id,
        base_fee_per_gas=0,
    )
    if system_contracts is None:
        state = ShanghaiState(AtomicDB(overlay), context, Hash32(state_root))
    else:
        state = _MemberState(AtomicDB(overlay), context, Hash32(state_root))
        state.system_contracts = system_contracts
        state.system_addresses = tuple(system_addresses)
    return state, overlay


def _executable(sender: Address, nonce: int, gas: int, to: Address | None, data: bytes,
                access_list: Sequence[Any] = ()) -> Any:
    if access_list:
        unsigned = _TRANSACTION_BUILDER.new_unsigned_dynamic_fee_transaction(
            chain_id=1, nonce=nonce, max_priority_fee_per_gas=0, max_fee_per_gas=0, gas=gas,
            to=to or b"", value=0, data=data, access_list=access_list,
        )
    else:
        unsigned = _TRANSACTION_BUILDER.create_unsigned_transaction(
            nonce=nonce, gas_price=0, gas=gas, to=to or b"", value=0, data=data
        )
    return SpoofTransaction(unsigned, from_=sender)


def _revert_reason(computation: Any) -> str | None:
    output = bytes(computation.output or b"")
    if output[:4] == bytes.fromhex("08c379a0") and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        return output[68 : 68 + length].decode("utf-8", "replace")
    if computation.is_error and isinstance(computation.error, Revert):
        return None  # a revert without an Error(string) reason (Vyper's failed ABI checks)
    if computation.is_error:
        return str(computation.error) or type(computation.error).__name__
    return None


def _apply(state: ShanghaiState, transaction: Any, cumulative: int, tx_hash: bytes,
           lock: bool = True) -> Receipt:
    if lock:
        state.lock_changes()
    computation = state.apply_transaction(transaction)
    used = transaction.gas - computation.get_gas_remaining()
    gas_used = used - min(computation.get_gas_refund(), used // REFUND_QUOTIENT)
    logs = tuple(
        Log(address=bytes(address), topics=tuple(t.to_bytes(32, "big") for t in topics),
            data=bytes(data))
        for address, topics, data in computation.get_log_entries()
    )
    success = computation.is_success
    return Receipt(
        transaction_hash=tx_hash,
        status=1 if success else 0,
        gas_used=gas_used,
        cumulative_gas_used=cumulative + gas_used,
        logs=logs if success else (),
        revert_reason=None if success else _revert_reason(computation),
    )


def _execute_batch(
    source: StateSource,
    parent_state_root: bytes,
    environment: BlockEnvironment,
    items: Sequence[tuple[bytes, Callable[[ShanghaiState], Any]]],
    require_success: bool,
) -> ExecutionResult:
    """Apply (receipt key, executable builder) pairs in order on one state; persist once."""
    state, overlay = _open_state(source, parent_state_root, environment)
    receipts: list[Receipt] = []
    cumulative = 0
    for key, build in items:
        receipt = _apply(state, build(state), cumulative, key)
        if require_success and receipt.status != 1:
            raise ValueError(f"genesis call {len(receipts)} reverted: {receipt.revert_reason}")
        cumulative = receipt.cumulative_gas_used
        receipts.append(receipt)
    state.persist()
    return ExecutionResult(
        state_root=bytes(state.state_root), receipts=tuple(receipts),
        state_nodes=dict(overlay.written),
    )


def execute_block(
    source: StateSource,
    parent_state_root: bytes,
    environment: BlockEnvironment,
    transactions: Sequence[AdmittedTransaction],
) -> ExecutionResult:
    """Execute a block's admitted transactions as one batch on the parent state.

    The caller has checked nonces and membership (the ledger's block validation); a py-evm
    validation error here means the block is invalid and propagates as ValueError.
    """
    def builder(admitted: AdmittedTransaction) -> Callable[[ShanghaiState], Any]:
        tx = admitted.transaction
        return lambda _: _executable(admitted.sender, tx.nonce, tx.gas, tx.to, tx.data,
                                     tx.access_list)

    return _execute_batch(source, parent_state_root, environment,
                          [(a.transaction.hash, builder(a)) for a in transactions], False)


def execute_system_calls(
    source: StateSource,
    parent_state_root: bytes,
    environment: BlockEnvironment,
    calls: Sequence[SystemCall],
) -> ExecutionResult:
    """Execute unsigned calls and deployments (genesis only), nonces taken from state."""
    def builder(call: SystemCall) -> Callable[[ShanghaiState], Any]:
        return lambda state: _executable(call.sender, state.get_nonce(EvmAddress(call.sender)),
                                         call.gas, call.to, call.data)

    return _execute_batch(source, parent_state_root, environment,
                          [(i.to_bytes(32, "big"), builder(c)) for i, c in enumerate(calls)],
                          True)


def call_contract(
    source: StateSource,
    state_root: bytes,
    environment: BlockEnvironment,
    sender: Address,
    to: Address,
    data: bytes,
    gas: int = CALL_GAS_LIMIT,
) -> CallResult:
    """A read-only call against a committed state (eth_call); nothing is written."""
    state, _ = _open_state(source, state_root, environment)
    executable = _executable(sender, state.get_nonce(EvmAddress(sender)), gas, to, data)
    computation = state.costless_execute_transaction(executable)
    gas_used = gas - computation.get_gas_remaining()
    return CallResult(
        success=computation.is_success,
        output=bytes(computation.output or b""),
        gas_used=gas_used,
        revert_reason=None if computation.is_success else _revert_reason(computation),
    )


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account's nonce, balance and code at a state root."""

    nonce: int
    balance: int
    code: bytes


def read_account(
    source: StateSource, state_root: bytes, environment: BlockEnvironment, address: Address
) -> AccountView:
    """Read an account at a committed state."""
    state, _ = _open_state(source, state_root, environment)
    return AccountView(
        nonce=state.get_nonce(EvmAddress(address)),
        balance=state.get_balance(EvmAddress(address)),
        code=bytes(state.get_code(EvmAddress(address))),
    )


def read_storage(
    source: StateSource,
    state_root: bytes,
    environment: BlockEnvironment,
    address: Address,
    slot: int,
) -> int:
    """Read one storage slot at a committed state (eth_getStorageAt)."""
    state, _ = _open_state(source, state_root, environment)
    return int(state.get_storage(EvmAddress(address), slot))


class Executor(Protocol):
    """The execution port of the ledger: the native engine (`chain.engine.executor`), py-evm
    (the reference, `PyEvmExecutor`), or a sharing twin in the simulator."""

    def execute_block(self, source: StateSource, parent_state_root: bytes,
                      environment: BlockEnvironment,
                      transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        """Execute a block's transactions as one batch (see `execute_block`)."""

    def call_contract(self, source: StateSource, state_root: bytes,
                      environment: BlockEnvironment, sender: Address, to: Address,
                      data: bytes) -> CallResult:
        """A read-only call (see `call_contract`)."""

    def read_account(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address) -> AccountView:
        """An account's nonce, balance and code (see `read_account`)."""


class PyEvmExecutor:
    """The executor every node uses: the functions of this module."""

    def execute_block(self, source: StateSource, parent_state_root: bytes,
                      environment: BlockEnvironment,
                      transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        """`execute_block`."""
        return execute_block(source, parent_state_root, environment, transactions)

    def call_contract(self, source: StateSource, state_root: bytes,
                      environment: BlockEnvironment, sender: Address, to: Address,
                      data: bytes) -> CallResult:
        """`call_contract` with the default gas."""
        return call_contract(source, state_root, environment, sender, to, data)

    def read_account(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address) -> AccountView:
        """`read_account`."""
        return read_account(source, state_root, environment, address)


class EvmSession:
    """py-evm for members' contracts inside a native block, opened only when one is called.

    Transactions apply in block order on one state opened at the EVM account root; the system
    contracts answer their calls through `system_contracts` (the native handlers, reading the
    block's pending rows). The sender's nonce is the one the caller keeps (the native accounts
    table) and is set before each transaction. `finish` hashes the tries once.
    """

    def __init__(self, source: StateSource, evm_root: bytes, environment: BlockEnvironment,
                 system_contracts: SystemContracts, system_addresses: Sequence[Address]) -> None:
        self.state, self.overlay = _open_state(source, evm_root, environment, system_contracts,
                                               system_addresses)

    def apply(self, sender: Address, nonce: int, gas: int, to: Address, data: bytes,
              transaction_hash: bytes, cumulative: int) -> tuple[Receipt, Address | None]:
        """Apply one transaction; its receipt and, for a successful deployment, the address."""
        self.state.set_nonce(EvmAddress(sender), nonce)
        self.state.lock_changes()
        snapshot = self.state.snapshot()
        try:
            receipt = _apply(self.state, _executable(sender, nonce, gas, to or None, data),
                             cumulative, transaction_hash, lock=False)
        except (VMError, ValidationError) as error:
            # Refused before any code ran (an initcode above EIP-3860's limit, ...): the nonce
            # is used and the whole gas limit charged, as a failed transaction.
            self.state.revert(snapshot)
            self.state.set_nonce(EvmAddress(sender), nonce + 1)
            receipt = Receipt(transaction_hash, 0, gas, cumulative + gas, (),
                              f"refused by the EVM: {error}")
        created = contract_address(sender, nonce) if not to and receipt.status == 1 else None
        return receipt, created

    def call(self, sender: Address, to: Address, data: bytes, gas: int) -> CallResult:
        """A read-only call (eth_call, estimation): every change is discarded."""
        executable = _executable(sender, self.state.get_nonce(EvmAddress(sender)), gas,
                                 to or None, data)
        try:
            computation = self.state.costless_execute_transaction(executable)
        except (VMError, ValidationError) as error:
            return CallResult(False, b"", gas, f"refused by the EVM: {error}")
        return CallResult(
            success=computation.is_success, output=bytes(computation.output or b""),
            gas_used=gas - computation.get_gas_remaining(),
            revert_reason=None if computation.is_success else _revert_reason(computation))

    def install_code(self, address: Address, code: bytes) -> None:
        """Give an account code outside any transaction (genesis only)."""
        self.state.set_code(EvmAddress(address), code)

    def code(self, address: Address) -> bytes:
        """The code of an account."""
        return bytes(self.state.get_code(EvmAddress(address)))

    def storage(self, address: Address, slot: int) -> int:
        """One storage slot."""
        return int(self.state.get_storage(EvmAddress(address), slot))

    def finish(self) -> tuple[bytes, Mapping[bytes, bytes]]:
        """The new account root and the trie nodes written."""
        self.state.persist()
        return bytes(self.state.state_root), dict(self.overlay.written)


def contract_address(deployer: Address, nonce: int) -> Address:
    """The address a deployment by `deployer` at `nonce` creates."""
    from eth._utils.address import generate_contract_address

    return bytes(generate_contract_address(EvmAddress(deployer), nonce))


PRECOMPILE_ADDRESS_LIMIT = 0x0A  # 0x01..0x0a are the Shanghai precompiles: always warm
ADDRESS_BYTES = 20


@dataclass(frozen=True, slots=True)
class AccessListResult:
    """A read-only call and the accounts and storage slots it touched (eth_createAccessList)."""

    call: CallResult
    entries: tuple[tuple[Address, tuple[int, ...]], ...]


def trace_access_list(
    source: StateSource,
    state_root: bytes,
    environment: BlockEnvironment,
    sender: Address,
    to: Address,
    data: bytes,
    gas: int = CALL_GAS_LIMIT,
) -> AccessListResult:
    """A read-only call and what it accessed, as go-ethereum's access-list tracer reports it.

    py-evm records every warmed account and slot (EIP-2929) in one journal of the state; after
    the call its keys are the accesses: 20-byte keys are accounts, longer ones an account and a
    slot. The sender, the precompiles and accounts warm by rule without a slot are left out.
    """
    state, _ = _open_state(source, state_root, environment)
    executable = _executable(sender, state.get_nonce(EvmAddress(sender)), gas, to, data)
    computation = state.costless_execute_transaction(executable)
    journal: Any = state._account_db._journal_accessed_state  # type: ignore[attr-defined]
    accessed = journal.diff().pending_keys()
    slots: dict[Address, set[int]] = {}
    for key in accessed:
        address = bytes(key[:ADDRESS_BYTES])
        entry = slots.setdefault(address, set())
        if len(key) > ADDRESS_BYTES:
            entry.add(int.from_bytes(key[ADDRESS_BYTES:], "big"))
    warm_by_rule = {sender, to, environment.coinbase}
    entries = tuple(
        (address, tuple(sorted(found))) for address, found in sorted(slots.items())
        if found or not (address in warm_by_rule
                         or int.from_bytes(address, "big") <= PRECOMPILE_ADDRESS_LIMIT))
    call = CallResult(
        success=computation.is_success,
        output=bytes(computation.output or b""),
        gas_used=gas - computation.get_gas_remaining(),
        revert_reason=None if computation.is_success else _revert_reason(computation),
    )
    return AccessListResult(call, entries)
