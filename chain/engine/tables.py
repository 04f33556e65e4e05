"""Typed tables of the system contracts: keys, rows and their encodings, and a block's overlay.

Every row lives under one key: a one-byte table prefix, then the table's key fields at fixed
widths. Rows are RLP lists of fixed field orders (`chain.rlp_codec`); a row whose fields are all
zero is not stored (the contracts' "empty" value), so a deleted row and a never-written row are
the same thing, as for an EVM storage slot. Within a row, a zero word or zero address (32 or 20
zero bytes: a record's absent previous or next version, say) is written as the empty string,
one byte instead of 33; readers pad byte fields back to their width (ADR 0024).

An enterprise's 32-byte word is written short, in keys and in rows, when its last 14 bytes are
zero, as every credit code's is (18 ASCII bytes, zero-padded on the right): its first 18 bytes
(`short_word`); any other word stays 32 bytes. The two forms differ in length, so the mapping is
one-to-one and each key has one fixed width per form; a row field of kind `s` is read back
with `long_word` (ADR 0024, addendum).

| table | prefix | key | row |
|---|---|---|---|
| accounts | `a` | address (20) | nonce |
| members | `m` | address (20) | roles, status, city, name |
| validators | `v` | node key (32) | city |
| settings | `c` | name | regulator, dispute window, validator count, publisher count |
| records | `r` | record id (32) | `StoredRecord` (enterprise short, publisher number, position) |
| publisher numbers | `p` | address (20) | number |
| publishers | `q` | number (4) | address |
| enterprise index | `i` | enterprise (18 or 32) + chunk (4) | (chunk 0: count), record ids |
| disputes | `d` | dispute id (32) | `StoredDispute` |
| enterprise keys | `k` | enterprise (18 or 32) | key address, grant nonce |
| grants | `g` | enterprise (18 or 32) + querier (20) | `StoredGrant` |
| audit sequences | `s` | node id (32) | anchoring account, last sequence |
| audit roots | `u` | node id (32) + sequence (32) | merkle root |
| member contracts | `x` | contract address (20) | deployer |

The enterprise index holds an enterprise's record versions in publish order, up to
`CHUNK_RECORDS` record ids a row, concatenated in one byte string; chunk 0's row also holds the
count of versions. An append rewrites chunk 0 (the count) and the last chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from chain import rlp_codec
from chain.errors import MalformedInput

ACCOUNTS = b"a"
MEMBERS = b"m"
VALIDATORS = b"v"
SETTINGS = b"c"
RECORDS = b"r"
PUBLISHER_NUMBERS = b"p"
PUBLISHERS = b"q"
ENTERPRISE_INDEX = b"i"
DISPUTES = b"d"
ENTERPRISE_KEYS = b"k"
GRANTS = b"g"
AUDIT_SEQUENCES = b"s"
AUDIT_ROOTS = b"u"
MEMBER_CONTRACTS = b"x"
TABLE_NAMES: Mapping[bytes, str] = {
    ACCOUNTS: "accounts", MEMBERS: "members", VALIDATORS: "validators", SETTINGS: "settings",
    RECORDS: "records", PUBLISHER_NUMBERS: "publisher numbers", PUBLISHERS: "publishers",
    ENTERPRISE_INDEX: "enterprise index",
    DISPUTES: "disputes", ENTERPRISE_KEYS: "enterprise keys", GRANTS: "grants",
    AUDIT_SEQUENCES: "audit sequences", AUDIT_ROOTS: "audit roots",
    MEMBER_CONTRACTS: "member contracts",
}
REGULATOR_SETTING = SETTINGS + b"regulator"
DISPUTE_WINDOW_SETTING = SETTINGS + b"dispute_window"
VALIDATOR_COUNT_SETTING = SETTINGS + b"validator_count"
PUBLISHER_COUNT_SETTING = SETTINGS + b"publisher_count"
PUBLISHER_NUMBER_BYTES = 4  # 2**32 publishers: more than a consortium admits

CHUNK_RECORDS = 8  # record ids a row of the enterprise index holds
CHUNK_NUMBER_BYTES = 4  # 2**32 chunks: more versions than any enterprise can reach
WORD_BYTES = 32
SHORT_WORD_BYTES = 18  # a credit code's bytes; the rest of its word is zero
FIRST_CHUNK_KEY_END = bytes(CHUNK_NUMBER_BYTES)  # how the key of an index's chunk 0 ends


def short_word(word: bytes) -> bytes:
    """A 32-byte word as keys and rows hold it: its first 18 bytes when the other 14 are zero
    (every credit code), else the word."""
    if len(word) == WORD_BYTES and not any(word[SHORT_WORD_BYTES:]):
        return word[:SHORT_WORD_BYTES]
    return word


def long_word(field: bytes) -> bytes:
    """The 32-byte word a row field of kind `s` holds (`short_word` undone; empty is zero)."""
    if len(field) == SHORT_WORD_BYTES:
        return field.ljust(WORD_BYTES, b"\0")
    return field.rjust(WORD_BYTES, b"\0")


Row = tuple[int | bytes, ...]
"""A decoded row: its fields in order, integers and byte strings."""

RowChanges = Mapping[bytes, bytes | None]
"""Rows a block writes: key -> encoded row, None when the row becomes empty."""


class TableReader(Protocol):
    """Where the engine reads rows committed before the block (the node's store)."""

    def load_row(self, key: bytes) -> bytes | None:
        """The encoded row under a key, or None."""


class EmptyTables:
    """No rows: the tables before genesis."""

    def load_row(self, key: bytes) -> bytes | None:
        """Nothing is stored."""
        return None


def _string_prefix(length: int) -> bytes:
    if length < 56:
        return _SHORT_PREFIXES[length]
    return rlp_codec.encode_length(length, 0x80)


_SHORT_PREFIXES = tuple(bytes((0x80 + length,)) for length in range(56))
_ZERO_FIELDS = {20: bytes(20), 32: bytes(32)}  # a zero address or word: written empty


def encode_row(fields: Row) -> bytes | None:
    """A row's bytes, None when every field is zero (the row is then absent).

    A row is a flat RLP list of byte strings; it is written once per changed row of every
    block, so this is `rlp_codec.encode` unrolled for that one shape (same bytes).
    """
    if not any(fields):
        return None
    parts: list[bytes] = []
    for field in fields:
        if isinstance(field, bool | int):
            if field < 0:
                raise ValueError("RLP integers are non-negative")
            field = int(field).to_bytes((int(field).bit_length() + 7) // 8, "big")
        elif not isinstance(field, bytes):
            raise TypeError(f"a row field is an integer or bytes, got {type(field).__name__}")
        elif len(field) in _ZERO_FIELDS and field == _ZERO_FIELDS[len(field)]:
            field = b""
        if len(field) == 1 and field[0] < 0x80:
            parts.append(field)
        else:
            parts.append(_string_prefix(len(field)))
            parts.append(field)
    payload = b"".join(parts)
    return rlp_codec.encode_length(len(payload), 0xC0) + payload


def decode_row(data: bytes, kinds: str) -> Row:
    """Fields of a stored row; `kinds` is one letter a field: `i` integer, `b` bytes (as
    stored), `s` a word written by `short_word` (returned whole, 32 bytes)."""
    if len(data) <= SMALL_ROW_BYTES:
        return _decode_small_row(data, kinds)
    return _decode_row(data, kinds)


@lru_cache(maxsize=256)
def absent_row(kinds: str) -> Row:
    """The fields of a row that is not stored: zeros and empty strings."""
    return tuple(0 if kind == "i" else b"" for kind in kinds)


SMALL_ROW_BYTES = 48  # counts, numbers, roles: read over and over, few distinct values


@lru_cache(maxsize=4_096)
def _decode_small_row(data: bytes, kinds: str) -> Row:
    """`_decode_row`, remembered: a block reads the same small rows (a publisher's number, a
    member's roles, a setting) once a record; the decoded tuple is immutable."""
    return _decode_row(data, kinds)


def _decode_row(data: bytes, kinds: str) -> Row:
    items = rlp_codec.decode_list_spans(data)[0]  # strict, with byte strings inlined
    if len(items) != len(kinds):
        raise MalformedInput(f"stored row is not an RLP list of {len(kinds)} fields")
    fields: list[int | bytes] = []
    for kind, item in zip(kinds, items, strict=True):
        if not isinstance(item, bytes):
            raise MalformedInput("stored row field is not a byte string")
        if kind == "i":
            fields.append(rlp_codec.decode_int(item, "row field"))
        else:
            fields.append(long_word(item) if kind == "s" else item)
    return tuple(fields)


class TableOverlay:
    """The tables as one block's transactions see them.

    Reads look at the running transaction's writes, then the block's, then the committed rows.
    `commit_transaction` folds a successful transaction into the block; `discard_transaction`
    drops a reverted one, so a revert leaves no trace.
    """

    def __init__(self, reader: TableReader) -> None:
        self.reader = reader
        self.block: dict[bytes, bytes | None] = {}
        self.transaction: dict[bytes, bytes | None] = {}
        self.committed: dict[bytes, bytes | None] = {}
        """Rows read from `reader`, kept: the block's result needs each changed row's old value."""

    def load(self, key: bytes) -> bytes | None:
        """The current row under a key."""
        if key in self.transaction:
            return self.transaction[key]
        if key in self.block:
            return self.block[key]
        return self.load_committed(key)

    def load_committed(self, key: bytes) -> bytes | None:
        """The row committed before the block (read once from the reader)."""
        if key not in self.committed:
            self.committed[key] = self.reader.load_row(key)
        return self.committed[key]

    def read(self, key: bytes, kinds: str) -> Row:
        """The current row decoded; all zeros when absent."""
        raw = self.load(key)
        if raw is None:
            return absent_row(kinds)
        return decode_row(raw, kinds)

    def write(self, key: bytes, fields: Row) -> None:
        """Set a row in the running transaction."""
        self.transaction[key] = encode_row(fields)

    def commit_transaction(self) -> None:
        """The running transaction succeeded: its writes join the block's."""
        self.block.update(self.transaction)
        self.transaction = {}

    def discard_transaction(self) -> None:
        """The running transaction reverted: forget its writes."""
        self.transaction = {}

    def load_row(self, key: bytes) -> bytes | None:
        """`TableReader` over the block's committed transactions (for a following block)."""
        if key in self.block:
            return self.block[key]
        return self.load_committed(key)


@dataclass(frozen=True, slots=True)
class TableKeys:
    """Key builders, one per table (all fields at fixed widths)."""

    @staticmethod
    def account(address: bytes) -> bytes:
        """accounts: an account's nonce."""
        return ACCOUNTS + address

    @staticmethod
    def member(address: bytes) -> bytes:
        """members: an institution."""
        return MEMBERS + address

    @staticmethod
    def validator(node_key: bytes) -> bytes:
        """validators: a validator node's city."""
        return VALIDATORS + node_key

    @staticmethod
    def record(record_id: bytes) -> bytes:
        """records: one record version."""
        return RECORDS + record_id

    @staticmethod
    def publisher_number(address: bytes) -> bytes:
        """publisher numbers: the number a publisher's record rows name it by."""
        return PUBLISHER_NUMBERS + address

    @staticmethod
    def publisher(number: int) -> bytes:
        """publishers: the address of a publisher number."""
        return PUBLISHERS + number.to_bytes(PUBLISHER_NUMBER_BYTES, "big")

    @staticmethod
    def enterprise_chunk(enterprise: bytes, chunk: int) -> bytes:
        """enterprise index: up to `CHUNK_RECORDS` record ids of an enterprise's list."""
        return ENTERPRISE_INDEX + short_word(enterprise) + chunk.to_bytes(CHUNK_NUMBER_BYTES,
                                                                         "big")

    @staticmethod
    def dispute(dispute_id: bytes) -> bytes:
        """disputes: one dispute."""
        return DISPUTES + dispute_id

    @staticmethod
    def enterprise_key(enterprise: bytes) -> bytes:
        """enterprise keys: an enterprise's signing key and grant nonce."""
        return ENTERPRISE_KEYS + short_word(enterprise)

    @staticmethod
    def grant(enterprise: bytes, querier: bytes) -> bytes:
        """grants: one enterprise's grant to one querier."""
        return GRANTS + short_word(enterprise) + querier

    @staticmethod
    def audit_sequence(node_id: bytes) -> bytes:
        """audit sequences: a node's anchoring account and last batch."""
        return AUDIT_SEQUENCES + node_id

    @staticmethod
    def audit_root(node_id: bytes, sequence: int) -> bytes:
        """audit roots: one anchored batch's Merkle root."""
        return AUDIT_ROOTS + node_id + sequence.to_bytes(32, "big")

    @staticmethod
    def member_contract(address: bytes) -> bytes:
        """member contracts: a contract a member deployed, and who deployed it."""
        return MEMBER_CONTRACTS + address


KEYS = TableKeys()
