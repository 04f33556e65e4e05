"""Index entries derived from a committed block's events.

Pure: receipts in, key-value entries out. The ledger writes them in the same atomic commit as
the block, so the index can never disagree with the chain.

What the index holds of records depends on the engine (ADR 0024). Under the native engine the
tables already hold every record version (table `r`: enterprise, kind, payload hash, publisher,
status, version, height, previous and next) and each enterprise's list (table `i`), so the index
keeps only what they lack, the transaction that wrote each version; `record_entry_of_row` joins
the two. Under the py-evm reference engine there are no tables, so the index keeps whole entries.

Keys (one byte of namespace first):
- `R` + record id -> native engine: the hash of the transaction that wrote that version;
  reference engine: RecordEntry (latest status of that version)
- `E` + enterprise (18 ASCII) + height (8) + transaction index (4) + log index (4) -> record id
  (reference engine only)
- `T` + transaction hash -> location (height, index)
- `M` + address -> Member
- `A` + node id (32) + batch (8) -> merkle root + entry count (an anchored audit batch)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import cast

from chain.codec import (
    Member,
    RecordEntry,
    decode_member,
    decode_record_entry,
    encode_location,
    encode_member,
    encode_record_entry,
)
from chain.engine.tables import KEYS, decode_row
from chain.execution import Receipt
from contracts import bindings

RECORD_PREFIX = b"R"
ENTERPRISE_PREFIX = b"E"
TRANSACTION_PREFIX = b"T"
MEMBER_PREFIX = b"M"
ANCHOR_PREFIX = b"A"
STATUS_CORRECTED = int(bindings.RecordStatus.CORRECTED)
STATUS_REVOKED = int(bindings.RecordStatus.REVOKED)
RECORD_ROW_FIELDS = "bbbiiiibb"  # the records table's row (`chain.engine.registry.StoredRecord`)
ZERO_WORD = b"\0" * 32

Lookup = Callable[[bytes], bytes | None]


def enterprise_key(enterprise: str) -> bytes:
    """The prefix of an enterprise's record index."""
    return ENTERPRISE_PREFIX + enterprise.encode("ascii")


@dataclass(frozen=True, slots=True)
class BlockEvent:
    """One contract event of a committed block, decoded once, with the log it came from."""

    position: int
    """Index of its transaction in the block."""
    log_index: int
    transaction_hash: bytes
    address: bytes
    """The contract that emitted it."""
    event: bindings.Event


def decode_block_events(transaction_hashes: Sequence[bytes],
                        receipts: Sequence[Receipt]) -> tuple[BlockEvent, ...]:
    """Every event of our contracts in a block, in log order (logs of other contracts skipped).

    The ledger decodes a block's events once, here, and hands them to the indexer and, in
    `CommittedBlock.events`, to every other consumer (caches, audit, dashboard).
    """
    found: list[BlockEvent] = []
    for position, (transaction_hash, receipt) in enumerate(
            zip(transaction_hashes, receipts, strict=True)):
        for log_index, log in enumerate(receipt.logs):
            event = (cast(bindings.Event, log.event) if log.event is not None
                     else bindings.decode_event(log.topics, log.data))
            if event is not None:
                found.append(BlockEvent(position, log_index, transaction_hash, log.address,
                                        event))
    return tuple(found)


def index_block(
    height: int,
    transaction_hashes: Sequence[bytes],
    receipts: Sequence[Receipt],
    lookup: Lookup,
    events: Sequence[BlockEvent] | None = None,
    records_in_tables: bool = False,
) -> dict[bytes, bytes]:
    """The index entries a committed block adds or changes.

    `lookup` reads entries committed before this block; entries this block writes are read back
    from the result first, so a block may publish and correct a record at once. `events` are the
    block's decoded events (decoded here when not given). `records_in_tables` (the native
    engine): record versions get only their transaction hash, since the tables hold the rest.
    """
    entries: dict[bytes, bytes] = {}

    def read(key: bytes) -> bytes | None:
        return entries[key] if key in entries else lookup(key)

    for position, transaction_hash in enumerate(transaction_hashes):
        entries[TRANSACTION_PREFIX + transaction_hash] = encode_location(height, position)
    if events is None:
        events = decode_block_events(transaction_hashes, receipts)
    for item in events:
        place = (height.to_bytes(8, "big") + item.position.to_bytes(4, "big")
                 + item.log_index.to_bytes(4, "big"))
        if records_in_tables and isinstance(item.event, bindings.RecordPublished
                                            | bindings.RecordCorrected | bindings.RecordRevoked):
            if not isinstance(item.event, bindings.RecordRevoked):
                entries[RECORD_PREFIX + _new_record_id(item.event)] = item.transaction_hash
            continue
        _apply_event(item.event, height, item.transaction_hash, place, read, entries)
    return entries


def _new_record_id(event: bindings.RecordPublished | bindings.RecordCorrected) -> bytes:
    if isinstance(event, bindings.RecordPublished):
        return event.record_id
    return event.new_record_id


def _int(field: bytes) -> int:
    return int.from_bytes(field, "big")


def _int_bytes(value: int | bytes) -> bytes:
    assert isinstance(value, int)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _short_fields(row: bytes) -> list[bytes] | None:
    """The fields of a flat RLP list of strings shorter than 56 bytes (a record row), read
    without the general decoder; None for any other shape (the caller then decodes strictly).
    Rows come from the store, whose rows the state root's set hash vouches for on open."""
    first = row[0] if row else 0
    if 0xC0 <= first <= 0xF7:
        position, end = 1, 1 + first - 0xC0
    elif first == 0xF8 and len(row) > 1:
        position, end = 2, 2 + row[1]
    else:
        return None
    if end != len(row):
        return None
    fields = []
    while position < end:
        marker = row[position]
        if marker < 0x80:
            fields.append(row[position:position + 1])
            position += 1
        elif marker <= 0xB7:
            position += 1 + marker - 0x80
            fields.append(row[position - (marker - 0x80):position])
        else:
            return None
    return fields if position == end else None


def record_id_of_row(row: bytes) -> bytes:
    """The record id an enterprise-index row holds (a one-field row)."""
    fields = _short_fields(row)
    if fields is None or len(fields) != 1:
        (record_id,) = decode_row(row, "b")
        assert isinstance(record_id, bytes)
        return record_id.rjust(32, b"\0")
    return fields[0].rjust(32, b"\0")


def _optional_word(word: bytes) -> bytes:
    word = word.rjust(32, b"\0")
    return b"" if word == ZERO_WORD else word


def record_entry_of_row(record_id: bytes, row: bytes, transaction_hash: bytes,
                        members: Callable[[bytes], Member | None]) -> RecordEntry:
    """A record version as the index used to hold it, from its records-table row, the hash of
    the transaction that wrote it (the index's `R` entry) and its publisher's member row (the
    origin city)."""
    fields = _short_fields(row)
    if fields is None or len(fields) != len(RECORD_ROW_FIELDS):
        fields = [field if isinstance(field, bytes) else _int_bytes(field)
                  for field in decode_row(row, RECORD_ROW_FIELDS)]
    (enterprise, payload_hash, publisher, kind, status, version, height, previous,
     following) = fields
    publisher = publisher.rjust(20, b"\0")
    member = members(publisher)
    return RecordEntry(
        record_id=record_id,
        enterprise=bindings.decode_enterprise_id(enterprise.ljust(32, b"\0")),
        kind=_int(kind), payload_hash=payload_hash.rjust(32, b"\0"), publisher=publisher,
        version=_int(version), previous=_optional_word(previous), status=_int(status),
        height=_int(height), transaction_hash=transaction_hash,
        origin_city=member.city if member is not None else 0, next=_optional_word(following),
    )


def enterprise_rows_prefix(enterprise: str) -> bytes | None:
    """The enterprise-index table's prefix of an enterprise's record list; None for a string
    that is no 18-character code (it can have no records)."""
    try:
        return KEYS.enterprise_record(bindings.encode_enterprise_id(enterprise), 0)[:-8]
    except (ValueError, UnicodeEncodeError):
        return None


def _member(read: Lookup, account: bytes) -> Member | None:
    raw = read(MEMBER_PREFIX + account)
    return decode_member(raw) if raw is not None else None


def _record(read: Lookup, record_id: bytes) -> RecordEntry | None:
    raw = read(RECORD_PREFIX + record_id)
    return decode_record_entry(raw) if raw is not None else None


def _apply_event(event: bindings.Event, height: int, transaction_hash: bytes, place: bytes,
                 read: Lookup, entries: dict[bytes, bytes]) -> None:
    match event:
        case bindings.RecordPublished() | bindings.RecordCorrected():
            _index_record_version(event, height, transaction_hash, place, read, entries)
        case bindings.RecordRevoked(record_id=record_id):
            entry = _record(read, record_id)
            if entry is not None:
                entries[RECORD_PREFIX + record_id] = encode_record_entry(
                    replace(entry, status=STATUS_REVOKED))
        case bindings.InstitutionAdmitted(account=account, roles=roles, city=city, name=name):
            entries[MEMBER_PREFIX + account] = encode_member(
                Member(account, roles, int(bindings.InstitutionStatus.ACTIVE), city, name))
        case bindings.RolesChanged(account=account, roles=roles):
            _update_member(read, entries, account, roles=roles)
        case bindings.InstitutionSuspended(account=account):
            _update_member(read, entries, account, status=int(bindings.InstitutionStatus.SUSPENDED))
        case bindings.InstitutionReinstated(account=account):
            _update_member(read, entries, account, status=int(bindings.InstitutionStatus.ACTIVE))
        case bindings.InstitutionRemoved(account=account):
            _update_member(read, entries, account, status=int(bindings.InstitutionStatus.REMOVED))
        case bindings.AuditAnchored():
            key = ANCHOR_PREFIX + event.node_id + event.batch_seq.to_bytes(8, "big")
            entries[key] = event.merkle_root + event.entry_count.to_bytes(8, "big")
        case _:
            pass


def _update_member(read: Lookup, entries: dict[bytes, bytes], account: bytes,
                   roles: int | None = None, status: int | None = None) -> None:
    member = _member(read, account)
    if member is not None:
        entries[MEMBER_PREFIX + account] = encode_member(replace(
            member,
            roles=member.roles if roles is None else roles,
            status=member.status if status is None else status,
        ))


def _index_record_version(event: bindings.RecordPublished | bindings.RecordCorrected,
                          height: int, transaction_hash: bytes, place: bytes, read: Lookup,
                          entries: dict[bytes, bytes]) -> None:
    enterprise = bindings.decode_enterprise_id(event.enterprise)
    if isinstance(event, bindings.RecordPublished):
        record_id, previous = event.record_id, b""
        publisher, kind = event.publisher, event.kind
    else:
        record_id, previous = event.new_record_id, event.old_record_id
        old = _record(read, previous)
        publisher = old.publisher if old else b"\0" * 20
        kind = old.kind if old else 0
        if old is not None:
            entries[RECORD_PREFIX + previous] = encode_record_entry(
                replace(old, status=STATUS_CORRECTED, next=record_id))
    member = _member(read, publisher)
    entries[RECORD_PREFIX + record_id] = encode_record_entry(RecordEntry(
        record_id=record_id, enterprise=enterprise, kind=kind, payload_hash=event.payload_hash,
        publisher=publisher, version=event.version, previous=previous,
        status=int(bindings.RecordStatus.ACTIVE), height=height,
        transaction_hash=transaction_hash, origin_city=member.city if member else 0,
    ))
    entries[enterprise_key(enterprise) + place] = record_id
