"""Byte encodings of the values the ledger stores: receipts, index entries, members, the head.

One module for serialization (STYLE.md, habit 4): every encoding is RLP over fixed field orders,
and every decoder refuses what it did not produce.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from chain import rlp_codec
from chain.errors import MalformedInput
from chain.execution import Log, Receipt

COUNT_DECODED_MEMBERS = 4_096  # membership entries kept decoded (a consortium has far fewer)


def _items(data: bytes, count: int, what: str) -> list[rlp_codec.RlpItem]:
    items = rlp_codec.decode(data)
    if not isinstance(items, list) or len(items) != count:
        raise MalformedInput(f"stored {what} is not an RLP list of {count} items")
    return items


def _bytes(item: rlp_codec.RlpItem) -> bytes:
    if not isinstance(item, bytes):
        raise MalformedInput("expected a byte string in a stored value")
    return item


def _int(item: rlp_codec.RlpItem) -> int:
    return rlp_codec.decode_int(_bytes(item), "stored integer")


def encode_receipts(receipts: tuple[Receipt, ...] | list[Receipt]) -> bytes:
    """All receipts of a block."""
    return rlp_codec.encode([_receipt_items(receipt) for receipt in receipts])


def encode_receipts_of(encoded: tuple[bytes, ...] | list[bytes]) -> bytes:
    """All receipts of a block from each receipt's encoding (`encode_receipt`): the same bytes
    as `encode_receipts`, without encoding the receipts again."""
    return rlp_codec.encode_list_payload(b"".join(encoded))


def encode_receipt(receipt: Receipt) -> bytes:
    """One receipt (a leaf of the receipts root): `rlp_codec.encode(_receipt_items(receipt))`,
    written out (every node encodes every receipt of every block)."""
    string, wrap = rlp_codec.encode_bytes, rlp_codec.encode_list_payload
    logs = b"".join([
        wrap(string(bytes(log.address)) + wrap(b"".join([string(bytes(t)) for t in log.topics]))
             + string(bytes(log.data)))
        for log in receipt.logs])
    return wrap(string(bytes(receipt.transaction_hash))
                + string(rlp_codec.encode_int(receipt.status))
                + string(rlp_codec.encode_int(receipt.gas_used))
                + string(rlp_codec.encode_int(receipt.cumulative_gas_used))
                + wrap(logs) + string((receipt.revert_reason or "").encode("utf-8")))


def _receipt_items(receipt: Receipt) -> rlp_codec.RlpItem:
    return [
        receipt.transaction_hash,
        rlp_codec.encode_int(receipt.status),
        rlp_codec.encode_int(receipt.gas_used),
        rlp_codec.encode_int(receipt.cumulative_gas_used),
        [[log.address, list(log.topics), log.data] for log in receipt.logs],
        (receipt.revert_reason or "").encode("utf-8"),
    ]


def decode_receipts(data: bytes) -> tuple[Receipt, ...]:
    """Receipts of a block from their stored bytes."""
    items = rlp_codec.decode(data)
    if not isinstance(items, list):
        raise MalformedInput("stored receipts are not an RLP list")
    return tuple(_receipt_from_items(item) for item in items)


def _receipt_from_items(item: rlp_codec.RlpItem) -> Receipt:
    if not isinstance(item, list) or len(item) != 6 or not isinstance(item[4], list):
        raise MalformedInput("stored receipt is not an RLP list of 6 items")
    logs = []
    for log in item[4]:
        if not isinstance(log, list) or len(log) != 3 or not isinstance(log[1], list):
            raise MalformedInput("stored log is not [address, topics, data]")
        logs.append(Log(_bytes(log[0]), tuple(_bytes(t) for t in log[1]), _bytes(log[2])))
    reason = _bytes(item[5]).decode("utf-8")
    return Receipt(
        transaction_hash=_bytes(item[0]),
        status=_int(item[1]),
        gas_used=_int(item[2]),
        cumulative_gas_used=_int(item[3]),
        logs=tuple(logs),
        revert_reason=reason or None,
    )


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last committed block: what a reopened store resumes from."""

    height: int
    block_hash: bytes
    state_root: bytes
    timestamp_ms: int


def encode_head(head: ChainHead) -> bytes:
    """The stored head."""
    return rlp_codec.encode([
        rlp_codec.encode_int(head.height), head.block_hash, head.state_root,
        rlp_codec.encode_int(head.timestamp_ms),
    ])


def decode_head(data: bytes) -> ChainHead:
    """The head from its stored bytes."""
    items = _items(data, 4, "head")
    return ChainHead(_int(items[0]), _bytes(items[1]), _bytes(items[2]), _int(items[3]))


@dataclass(frozen=True, slots=True)
class Member:
    """An admitted institution as the ledger's membership table holds it."""

    address: bytes
    roles: int
    status: int
    city: int
    name: str


def encode_member(member: Member) -> bytes:
    """A membership entry."""
    return rlp_codec.encode([
        member.address, rlp_codec.encode_int(member.roles), rlp_codec.encode_int(member.status),
        rlp_codec.encode_int(member.city), member.name.encode("utf-8"),
    ])


def decode_member(data: bytes) -> Member:
    """A membership entry from its stored bytes (remembered: the indexer reads the publisher's
    entry for every record it indexes, and members change rarely)."""
    return _decode_member_cached(data) if type(data) is bytes else _decode_member(data)


def _decode_member(data: bytes) -> Member:
    items = _items(data, 5, "member")
    return Member(_bytes(items[0]), _int(items[1]), _int(items[2]), _int(items[3]),
                  _bytes(items[4]).decode("utf-8"))


_decode_member_cached = functools.lru_cache(maxsize=COUNT_DECODED_MEMBERS)(_decode_member)


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """A credit record as the index holds it (one per version).

    origin_city: the publisher's city number; the payload lives at that city's nodes.
    status: 1 active, 2 corrected (a newer version exists), 3 revoked.
    """

    record_id: bytes
    enterprise: str
    kind: int
    payload_hash: bytes
    publisher: bytes
    version: int
    previous: bytes
    status: int
    height: int
    transaction_hash: bytes
    origin_city: int
    next: bytes = b""


def encode_record_entry(entry: RecordEntry) -> bytes:
    """An index entry of a record version."""
    return rlp_codec.encode([
        entry.record_id, entry.enterprise.encode("ascii"), rlp_codec.encode_int(entry.kind),
        entry.payload_hash, entry.publisher, rlp_codec.encode_int(entry.version),
        entry.previous, rlp_codec.encode_int(entry.status), rlp_codec.encode_int(entry.height),
        entry.transaction_hash, rlp_codec.encode_int(entry.origin_city), entry.next,
    ])


def decode_record_entry(data: bytes) -> RecordEntry:
    """An index entry from its stored bytes."""
    items = _items(data, 12, "record entry")
    return RecordEntry(
        record_id=_bytes(items[0]), enterprise=_bytes(items[1]).decode("ascii"),
        kind=_int(items[2]), payload_hash=_bytes(items[3]), publisher=_bytes(items[4]),
        version=_int(items[5]), previous=_bytes(items[6]), status=_int(items[7]),
        height=_int(items[8]), transaction_hash=_bytes(items[9]), origin_city=_int(items[10]),
        next=_bytes(items[11]),
    )


def encode_location(height: int, index: int) -> bytes:
    """Where a transaction sits: 8-byte height, 4-byte index."""
    return height.to_bytes(8, "big") + index.to_bytes(4, "big")


def decode_location(data: bytes) -> tuple[int, int]:
    """(height, index) of a transaction."""
    if len(data) != 12:
        raise MalformedInput("stored transaction location is not 12 bytes")
    return int.from_bytes(data[:8], "big"), int.from_bytes(data[8:], "big")
