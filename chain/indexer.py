"""Index entries derived from a committed block's events.

Pure: receipts in, key-value entries out. The ledger writes them in the same atomic commit as
the block, so the index can never disagree with the chain.

What the index holds of records depends on the engine (ADR 0024). Under the native engine the
tables hold every record version (table `r`: enterprise, kind, payload hash, publisher, status,
version, height and position of the transaction that wrote it, previous and next) and each
enterprise's list (table `i`), so the index holds no entry per record: the transaction's hash
comes from its block's list (`H`), and `record_entry_of_row` joins the two. Under the py-evm
reference engine there are no tables, so the index keeps whole entries.

Keys (one byte of namespace first):
- `H` + height (8) -> the hashes of the block's transactions, in block order, 32 bytes each
- `R` + record id -> RecordEntry, latest status of that version (reference engine only)
- `E` + enterprise (18 ASCII) + height (8) + transaction index (4) + log index (4) -> record id
  (reference engine only)
- `T` + transaction hash -> location (height, index)
- `M` + address -> Member
- `A` + node id (32) + batch (8) -> merkle root + entry count (an anchored audit batch)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from chain.codec import (
    Member,
    RecordEntry,
    decode_member,
    decode_record_entry,
    encode_location,
    encode_member,
    encode_record_entry,
)
from chain.engine.tables import FIRST_CHUNK_KEY_END, KEYS, WORD_BYTES, decode_row, long_word
from chain.execution import Receipt
from contracts import bindings

BLOCK_TRANSACTIONS_PREFIX = b"H"
RECORD_PREFIX = b"R"
ENTERPRISE_PREFIX = b"E"
TRANSACTION_PREFIX = b"T"
MEMBER_PREFIX = b"M"
ANCHOR_PREFIX = b"A"
STATUS_CORRECTED = int(bindings.RecordStatus.CORRECTED)
STATUS_REVOKED = int(bindings.RecordStatus.REVOKED)
RECORD_ROW_FIELDS = "bbiiiiiibb"  # the records table's row (`chain.engine.registry.StoredRecord`)
ZERO_WORD = b"\0" * 32

Lookup = Callable[[bytes], bytes | None]
TransactionHashAt = Callable[[int, int], bytes]
"""The hash of the transaction at (height, position) of a committed block."""
PublisherOf = Callable[[int], bytes]
"""The address of a publisher number (`chain.engine.publishers`)."""


def block_transactions_key(height: int) -> bytes:
    """The index key of a block's transaction hashes."""
    return BLOCK_TRANSACTIONS_PREFIX + height.to_bytes(8, "big")


def transaction_hash_in(hashes: bytes, position: int) -> bytes:
    """The hash at `position` of a block's concatenated transaction hashes."""
    return hashes[position * WORD_BYTES:(position + 1) * WORD_BYTES]


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

    The ledger gathers a block's events once, here, and hands them to the indexer and, in
    `CommittedBlock.events`, to every other consumer (caches, audit, dashboard). A native
    handler's log carries the event it was encoded from, so only py-evm's logs are decoded.
    """
    found: list[BlockEvent] = []
    for position, (transaction_hash, receipt) in enumerate(
            zip(transaction_hashes, receipts, strict=True)):
        for log_index, log in enumerate(receipt.logs):
            event = log.event if log.event is not None else bindings.decode_event(
                log.topics, log.data)  # a native handler's log carries the event it encoded
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
    engine): record events add nothing, since the tables hold the versions and a version's row
    names its transaction by position in the block's list of hashes (`H`).
    """
    entries: dict[bytes, bytes] = {}

    def read(key: bytes) -> bytes | None:
        return entries[key] if key in entries else lookup(key)

    for position, transaction_hash in enumerate(transaction_hashes):
        entries[TRANSACTION_PREFIX + transaction_hash] = encode_location(height, position)
    entries[block_transactions_key(height)] = b"".join(transaction_hashes)
    if events is None:
        events = decode_block_events(transaction_hashes, receipts)
    for item in events:
        if records_in_tables and isinstance(item.event, bindings.RecordPublished
                                            | bindings.RecordCorrected | bindings.RecordRevoked):
            continue
        place = (height.to_bytes(8, "big") + item.position.to_bytes(4, "big")
                 + item.log_index.to_bytes(4, "big"))
        _apply_event(item.event, height, item.transaction_hash, place, read, entries)
    return entries


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


def record_ids_of_chunks(chunks: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """The record ids of an enterprise's index rows (key, row), read in key order: chunk 0
    holds the count then the ids, every later chunk the ids (`chain.engine.tables`)."""
    record_ids: list[bytes] = []
    for key, row in chunks:
        ids = decode_row(row, "ib" if key.endswith(FIRST_CHUNK_KEY_END) else "b")[-1]
        assert isinstance(ids, bytes)
        record_ids.extend(ids[start:start + WORD_BYTES]
                          for start in range(0, len(ids), WORD_BYTES))
    return record_ids


def _optional_word(word: bytes) -> bytes:
    word = word.rjust(32, b"\0")
    return b"" if word == ZERO_WORD else word


def record_entry_of_row(record_id: bytes, row: bytes, transaction_hash_at: TransactionHashAt,
                        publisher_of: PublisherOf,
                        members: Callable[[bytes], Member | None]) -> RecordEntry:
    """A record version as the index used to hold it, from its records-table row, the hash of
    the transaction that wrote it (at the row's height and position), its publisher's address
    (by the row's publisher number) and member row (the origin city)."""
    fields = _short_fields(row)
    if fields is None or len(fields) != len(RECORD_ROW_FIELDS):
        fields = [field if isinstance(field, bytes) else _int_bytes(field)
                  for field in decode_row(row, RECORD_ROW_FIELDS)]
    (enterprise, payload_hash, publisher, kind, status, version, height, position, previous,
     following) = fields
    publisher = publisher_of(_int(publisher))
    member = members(publisher)
    return RecordEntry(
        record_id=record_id,
        enterprise=bindings.decode_enterprise_id(long_word(enterprise)),
        kind=_int(kind), payload_hash=payload_hash.rjust(32, b"\0"), publisher=publisher,
        version=_int(version), previous=_optional_word(previous), status=_int(status),
        height=_int(height), transaction_hash=transaction_hash_at(_int(height), _int(position)),
        origin_city=member.city if member is not None else 0, next=_optional_word(following),
    )


def enterprise_rows_prefix(enterprise: str) -> bytes | None:
    """The enterprise-index table's prefix of an enterprise's record list; None for a string
    that is no 18-character code (it can have no records)."""
    try:
        return KEYS.enterprise_chunk(bindings.encode_enterprise_id(enterprise), 0)[
            :-len(FIRST_CHUNK_KEY_END)]
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
