"""A py-evm Shanghai state for the contract tests: deploy, transact, call, move time.

Test-only. Transactions are legacy transactions signed with eth_keys keys (coincurve backend)
and applied with `ShanghaiState.apply_transaction`; calls run a spoofed unsigned transaction on
a snapshot that is reverted afterwards. Gas price and base fee are 0, as on the real chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from eth.abc import SignedTransactionAPI
from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS
from eth.db.atomic import AtomicDB
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.shanghai.state import ShanghaiState
from eth.vm.forks.shanghai.transactions import ShanghaiTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_keys.datatypes import PrivateKey
from eth_typing import Address, BlockNumber, Hash32

from contracts.bindings import (
    Event,
    decode_event,
    decode_revert_reason,
    deploy_code,
    load_artifact,
)

CHAIN_ID = 3100
"""Any chain id: the EIP-712 domain and the legacy signatures both use it."""
GAS_LIMIT = 30_000_000
"""Per-transaction and per-block gas limit."""
GENESIS_TIMESTAMP = 1_700_000_000
SECONDS_PER_BLOCK = 2
DISPUTE_WINDOW_BLOCKS = 10


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one transaction produced."""

    success: bool
    output: bytes
    gas_used: int
    events: tuple[Event, ...]
    revert_reason: str | None
    created_address: bytes | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """A secp256k1 key and its address."""

    private_key: PrivateKey
    address: bytes

    @classmethod
    def from_seed(cls, seed: int) -> Account:
        """A deterministic key: 32 bytes of `seed`."""
        private_key = PrivateKey(seed.to_bytes(32, "big"))
        return cls(private_key, private_key.public_key.to_canonical_address())

    def sign_digest(self, digest: bytes) -> tuple[int, bytes, bytes]:
        """(v, r, s) of a 32-byte digest, v in {27, 28} as ecrecover expects."""
        signature = self.private_key.sign_msg_hash(digest)
        return (
            signature.v + 27,
            signature.r.to_bytes(32, "big"),
            signature.s.to_bytes(32, "big"),
        )


def _context(block_number: int, timestamp: int) -> ExecutionContext:
    return ExecutionContext(
        coinbase=Address(b"\x00" * 20),
        timestamp=timestamp,
        block_number=BlockNumber(block_number),
        difficulty=0,
        mix_hash=Hash32(b"\x00" * 32),
        gas_limit=GAS_LIMIT,
        prev_hashes=(),
        chain_id=CHAIN_ID,
        base_fee_per_gas=0,
    )


def _events(computation: object) -> tuple[Event, ...]:
    decoded = []
    for _address, topics, data in computation.get_log_entries():  # type: ignore[attr-defined]
        event = decode_event([topic.to_bytes(32, "big") for topic in topics], data)
        assert event is not None
        decoded.append(event)
    return tuple(decoded)


def _gas_used(gas_limit: int, computation: object) -> int:
    remaining = computation.get_gas_remaining()  # type: ignore[attr-defined]
    used = gas_limit - remaining
    refund = min(computation.get_gas_refund(), used // 5)  # type: ignore[attr-defined]
    return int(used - refund)


@dataclass
class EvmHarness:
    """One in-memory chain state with a mutable block number and timestamp."""

    block_number: int = 1
    timestamp: int = GENESIS_TIMESTAMP
    state: ShanghaiState = field(init=False)

    def __post_init__(self) -> None:
        self.state = ShanghaiState(
            AtomicDB(), _context(self.block_number, self.timestamp), BLANK_ROOT_HASH
        )

    def advance(self, blocks: int = 1) -> None:
        """Move to a later block; the timestamp follows at SECONDS_PER_BLOCK."""
        self.set_block(self.block_number + blocks, self.timestamp + blocks * SECONDS_PER_BLOCK)

    def set_block(self, block_number: int, timestamp: int) -> None:
        """Execute the next transactions in this block."""
        self.block_number = block_number
        self.timestamp = timestamp
        self.state.execution_context = _context(block_number, timestamp)

    def transact(self, sender: Account, to: bytes, data: bytes) -> Outcome:
        """Sign and apply one transaction from `sender`."""
        unsigned = ShanghaiTransactionBuilder.create_unsigned_transaction(
            nonce=self.state.get_nonce(Address(sender.address)),
            gas_price=0,
            gas=GAS_LIMIT,
            to=Address(to),
            value=0,
            data=data,
        )
        transaction = unsigned.as_signed_transaction(sender.private_key, chain_id=CHAIN_ID)
        computation = self.state.apply_transaction(transaction)
        self.state.lock_changes()
        created = computation.msg.storage_address if to == CREATE_CONTRACT_ADDRESS else None
        return Outcome(
            success=computation.is_success,
            output=computation.output,
            gas_used=_gas_used(transaction.gas, computation),
            events=_events(computation) if computation.is_success else (),
            revert_reason=None
            if computation.is_success
            else decode_revert_reason(computation.output),
            created_address=created if computation.is_success else None,
        )

    def deploy(self, sender: Account, name: str, *constructor_arguments: object) -> bytes:
        """Deploy contract `name` from `sender`; the new contract's address."""
        outcome = self.transact(
            sender,
            CREATE_CONTRACT_ADDRESS,
            deploy_code(load_artifact(name), *constructor_arguments),
        )
        assert outcome.success, outcome.revert_reason
        assert outcome.created_address is not None
        return outcome.created_address

    def call(self, to: bytes, data: bytes, sender: bytes = b"\x00" * 20) -> bytes:
        """An eth_call: run a view and discard every change; raises on revert."""
        unsigned = ShanghaiTransactionBuilder.create_unsigned_transaction(
            nonce=self.state.get_nonce(Address(sender)),
            gas_price=0,
            gas=GAS_LIMIT,
            to=Address(to),
            value=0,
            data=data,
        )
        snapshot = self.state.snapshot()
        try:
            spoofed = cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=Address(sender)))
            computation = self.state.apply_transaction(spoofed)
        finally:
            self.state.revert(snapshot)
        if not computation.is_success:
            raise CallReverted(decode_revert_reason(computation.output))
        return bytes(computation.output)

    def state_root(self) -> bytes:
        """The root of the whole state after every applied transaction."""
        self.state.lock_changes()
        return bytes(self.state.make_state_root())

    def nonce_of(self, address: bytes) -> int:
        """The account's transaction count."""
        return int(self.state.get_nonce(Address(address)))

    def account_exists(self, address: bytes) -> bool:
        """Whether the state holds an entry for `address`."""
        return bool(self.state.account_exists(Address(address)))

    def rewind_account(self, address: bytes, nonce: int, existed: bool) -> None:
        """Undo a sender's nonce increment (to compare states around a refusal)."""
        if existed:
            self.state.set_nonce(Address(address), nonce)
        else:
            self.state.delete_account(Address(address))

    def code_at(self, address: bytes) -> bytes:
        """The runtime code stored at `address`."""
        return bytes(self.state.get_code(Address(address)))


class CallReverted(Exception):
    """A view call reverted."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


def events_of(outcome: Outcome, kind: type) -> Sequence[Event]:
    """The events of one class in an outcome."""
    return [event for event in outcome.events if isinstance(event, kind)]
