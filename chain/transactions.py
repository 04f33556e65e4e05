"""Ethereum-compatible signed transactions: decode once, recover the sender once.

Two envelopes are accepted, so that web3.py, eth-account and ethers.js can sign for the chain:
legacy transactions with EIP-155 replay protection, and EIP-1559 (type 2) transactions.
`decode_transaction` checks the shape and the limits; `recover_sender` does the one signature
recovery; `SenderCache` remembers the sender by transaction hash so that block validation and
execution never recover a signature the node has already verified.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from chain import rlp_codec
from chain.crypto import Address, keccak, recover_address
from chain.errors import (
    MalformedInput,
    OversizedInput,
    UnsupportedTransaction,
    WrongChainId,
    YrdError,
)

MAX_TRANSACTION_BYTES = 64 * 1024  # a batch of 64 records is about 9 KiB
MAX_TRANSACTION_GAS = 30_000_000  # one transaction may not take a whole block
MAX_FEE_PER_GAS_WEI = 10**15  # fees are accepted but never charged (ADR 0001)
SENDER_CACHE_ENTRIES = 200_000  # about 2 minutes of admissions at full rate
LEGACY_TYPE = 0
DYNAMIC_FEE_TYPE = 2


@dataclass(frozen=True, slots=True)
class Transaction:
    """A decoded signed transaction; `hash` is keccak of the raw bytes, as in Ethereum."""

    hash: bytes
    raw: bytes
    type: int
    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int
    to: Address
    value: int
    data: bytes
    access_list: tuple[tuple[Address, tuple[bytes, ...]], ...]
    signing_hash: bytes
    y_parity: int
    r: int
    s: int

    @property
    def gas_price(self) -> int:
        """The price a legacy client asked for (max fee for type 2)."""
        return self.max_fee_per_gas


@dataclass(frozen=True, slots=True)
class AdmittedTransaction:
    """A transaction whose signature this node has verified, with its sender."""

    transaction: Transaction
    sender: Address

    @property
    def hash(self) -> bytes:
        """The transaction hash."""
        return self.transaction.hash

    @property
    def nonce(self) -> int:
        """The sender's nonce."""
        return self.transaction.nonce


def _expect_bytes(item: rlp_codec.RlpItem, field: str) -> bytes:
    if not isinstance(item, bytes):
        raise MalformedInput(f"transaction field {field} must be a byte string", field=field)
    return item


def _expect_int(item: rlp_codec.RlpItem, field: str, bits: int = 256) -> int:
    if type(item) is not bytes or len(item) * 8 > bits or item[:1] == b"\0":
        raise MalformedInput(
            f"transaction field {field} must be a minimal big-endian integer of at most "
            f"{bits} bits",
            field=field,
        )
    return int.from_bytes(item, "big")


def _expect_address(item: rlp_codec.RlpItem) -> Address:
    """The recipient: 20 bytes, or empty for a contract creation (admission decides who may)."""
    raw = _expect_bytes(item, "to")
    if len(raw) not in (0, 20):
        raise MalformedInput(f"'to' must be 20 bytes, got {len(raw)}", field="to")
    return raw


def _decode_access_list(
    item: rlp_codec.RlpItem,
) -> tuple[tuple[Address, tuple[bytes, ...]], ...]:
    if not isinstance(item, list):
        raise MalformedInput("accessList must be a list", field="accessList")
    entries = []
    for entry in item:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
            raise MalformedInput("accessList entries are [address, [keys]]", field="accessList")
        address = _expect_bytes(entry[0], "accessList")
        keys = tuple(_expect_bytes(key, "accessList") for key in entry[1])
        if len(address) != 20 or any(len(key) != 32 for key in keys):
            raise MalformedInput("accessList holds 20-byte addresses, 32-byte keys", "accessList")
        entries.append((address, keys))
    return tuple(entries)


def decode_transaction(raw: bytes, chain_id: int) -> Transaction:
    """Decode and check a signed transaction without touching state or the signature.

    Stateless checks: size, envelope, field shapes, chain id, value and fee bounds.
    """
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise OversizedInput(
            f"transaction is {len(raw)} bytes; at most {MAX_TRANSACTION_BYTES} are accepted",
            field="raw",
        )
    if not raw:
        raise MalformedInput("transaction is empty", field="raw")
    if raw[0] >= 0xC0:
        transaction = _decode_legacy(raw, chain_id)
    elif raw[0] == DYNAMIC_FEE_TYPE:
        transaction = _decode_dynamic_fee(raw, chain_id)
    else:
        raise UnsupportedTransaction(
            f"transaction type {raw[0]} is not accepted; send legacy (EIP-155) or type 2",
            field="type",
        )
    _check_limits(transaction)
    return transaction


@functools.lru_cache(maxsize=16)
def _eip155_suffix(chain_id: int) -> bytes:
    """The (chainId, 0, 0) fields that end a legacy signing payload, RLP-encoded."""
    return rlp_codec.encode(rlp_codec.encode_int(chain_id)) + b"\x80\x80"


def _legacy_integers(fields: list[rlp_codec.RlpItem]) -> list[int]:
    """nonce, gasPrice, gas, value, v, r, s: minimal big-endian, bounded (hot path, inlined)."""
    values = []
    for position, bits in _LEGACY_INTEGER_FIELDS:
        item = fields[position]
        if type(item) is not bytes or len(item) * 8 > bits or item[:1] == b"\0":
            _expect_int(item, _LEGACY_FIELD_NAMES[position], bits)
        values.append(int.from_bytes(item, "big"))  # type: ignore[arg-type]
    return values


_LEGACY_FIELD_NAMES = ("nonce", "gasPrice", "gas", "to", "value", "data", "v", "r", "s")
_LEGACY_INTEGER_FIELDS = ((0, 64), (1, 256), (2, 64), (4, 256), (6, 256), (7, 256), (8, 256))


def _decode_legacy(raw: bytes, chain_id: int) -> Transaction:
    fields, starts = rlp_codec.decode_list_spans(raw)
    if len(fields) != 9:
        raise MalformedInput("a legacy transaction is an RLP list of 9 fields", field="raw")
    nonce, gas_price, gas, value, v, r, s = _legacy_integers(fields)
    to = _expect_address(fields[3])
    data = _expect_bytes(fields[5], "data")
    if v in (27, 28):
        raise WrongChainId(
            f"transaction lacks EIP-155 replay protection; expected chain id {chain_id}",
            field="chainId",
        )
    signed_chain_id, y_parity = (v - 35) // 2, (v - 35) % 2
    if v < 35 or signed_chain_id != chain_id:
        raise WrongChainId(
            f"transaction is signed for chain id {signed_chain_id}, expected {chain_id}",
            field="chainId",
        )
    unsigned_body = raw[starts[0] : starts[6]] + _eip155_suffix(chain_id)
    return Transaction(
        hash=keccak(raw),
        raw=raw,
        type=LEGACY_TYPE,
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=gas_price,
        max_fee_per_gas=gas_price,
        gas=gas,
        to=to,
        value=value,
        data=data,
        access_list=(),
        signing_hash=keccak(rlp_codec.encode_length(len(unsigned_body), 0xC0) + unsigned_body),
        y_parity=y_parity,
        r=r,
        s=s,
    )


def _decode_dynamic_fee(raw: bytes, chain_id: int) -> Transaction:
    envelope = raw[1:]
    fields, starts = rlp_codec.decode_list_spans(envelope)
    if len(fields) != 12:
        raise MalformedInput("a type-2 transaction is 0x02 || RLP list of 12 fields", field="raw")
    signed_chain_id = _expect_int(fields[0], "chainId")
    if signed_chain_id != chain_id:
        raise WrongChainId(
            f"transaction is signed for chain id {signed_chain_id}, expected {chain_id}",
            field="chainId",
        )
    return Transaction(
        hash=keccak(raw),
        raw=raw,
        type=DYNAMIC_FEE_TYPE,
        chain_id=chain_id,
        nonce=_expect_int(fields[1], "nonce", 64),
        max_priority_fee_per_gas=_expect_int(fields[2], "maxPriorityFeePerGas"),
        max_fee_per_gas=_expect_int(fields[3], "maxFeePerGas"),
        gas=_expect_int(fields[4], "gas", 64),
        to=_expect_address(fields[5]),
        value=_expect_int(fields[6], "value"),
        data=_expect_bytes(fields[7], "data"),
        access_list=_decode_access_list(fields[8]),
        signing_hash=keccak(
            b"\x02"
            + rlp_codec.encode_length(starts[9] - starts[0], 0xC0)
            + envelope[starts[0] : starts[9]]
        ),
        y_parity=_expect_int(fields[9], "yParity", 8),
        r=_expect_int(fields[10], "r"),
        s=_expect_int(fields[11], "s"),
    )


def intrinsic_gas(data: bytes) -> int:
    """Gas a call costs before execution: 21000 plus 4 per zero and 16 per other data byte."""
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def _check_limits(transaction: Transaction) -> None:
    if transaction.value != 0:
        raise UnsupportedTransaction(
            "value must be 0: the chain carries credit data, not currency", field="value"
        )
    if transaction.max_fee_per_gas > MAX_FEE_PER_GAS_WEI:
        raise UnsupportedTransaction(
            f"fee per gas {transaction.max_fee_per_gas} is above the bound "
            f"{MAX_FEE_PER_GAS_WEI}; fees are not charged, send 0",
            field="maxFeePerGas",
        )
    if transaction.max_priority_fee_per_gas > transaction.max_fee_per_gas:
        raise MalformedInput("maxPriorityFeePerGas exceeds maxFeePerGas", "maxPriorityFeePerGas")
    needed = intrinsic_gas(transaction.data)
    if not needed <= transaction.gas <= MAX_TRANSACTION_GAS:
        raise UnsupportedTransaction(
            f"gas {transaction.gas} must be between the intrinsic {needed} and "
            f"{MAX_TRANSACTION_GAS}",
            field="gas",
        )


def recover_sender(transaction: Transaction) -> Address:
    """Recover the sender: the one signature verification a transaction costs a node."""
    return recover_address(transaction.signing_hash, transaction.y_parity, transaction.r,
                           transaction.s)


class SenderCache:
    """Senders of transactions this node verified, by transaction hash (bounded, LRU).

    `recoveries` counts signature recoveries and `hits` the verifications avoided; tests and
    `/metrics` read them.
    """

    def __init__(self, capacity: int = SENDER_CACHE_ENTRIES) -> None:
        self._capacity = capacity
        self._senders: OrderedDict[bytes, Address] = OrderedDict()
        self.recoveries = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._senders)

    def get(self, transaction_hash: bytes) -> Address | None:
        """The cached sender, counting a hit; None if unknown."""
        sender = self._senders.get(transaction_hash)
        if sender is not None:
            self.hits += 1
            self._senders.move_to_end(transaction_hash)
        return sender

    def known(self, transaction_hash: bytes) -> Address | None:
        """The cached sender without counting a hit (a second look at the same transaction)."""
        return self._senders.get(transaction_hash)

    def put(self, transaction_hash: bytes, sender: Address) -> None:
        """Remember a verified sender."""
        self._senders[transaction_hash] = sender
        self._senders.move_to_end(transaction_hash)
        while len(self._senders) > self._capacity:
            self._senders.popitem(last=False)

    def admit(self, transaction: Transaction) -> AdmittedTransaction:
        """The admitted form of a decoded transaction, recovering only on a cache miss."""
        sender = self.get(transaction.hash)
        if sender is None:
            sender = recover_sender(transaction)
            self.recoveries += 1
            self.put(transaction.hash, sender)
        return AdmittedTransaction(transaction=transaction, sender=sender)


Mapper = Callable[[Callable[[Transaction], Address], Iterable[Transaction]], Iterator[Address]]


def _recover_or_error(transaction: Transaction) -> Address | YrdError:
    try:
        return recover_sender(transaction)
    except YrdError as error:
        return error


def admit_many(
    cache: SenderCache, transactions: Sequence[Transaction], mapper: Mapper | None = None
) -> list[AdmittedTransaction]:
    """Admit several transactions, recovering the unknown ones through `mapper`.

    `mapper` is `map` by default; the node passes a thread pool's `map` (coincurve releases the
    GIL, so two threads verify about 1.7 times as fast on two cores). Raises the first
    signature error, in transaction order.
    """
    unknown = [tx for tx in transactions if cache.get(tx.hash) is None]
    if unknown:
        results = list((mapper or map)(_recover_or_error, unknown))  # type: ignore[arg-type]
        cache.recoveries += len(unknown)
        for transaction, result in zip(unknown, results, strict=True):
            if isinstance(result, YrdError):
                raise result
            cache.put(transaction.hash, result)
    admitted = []
    for transaction in transactions:
        sender = cache.known(transaction.hash)
        if sender is None:  # evicted between recovery and now: recover again, once
            admitted.append(cache.admit(transaction))
        else:
            admitted.append(AdmittedTransaction(transaction=transaction, sender=sender))
    return admitted
