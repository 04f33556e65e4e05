"""`CreditRegistry` as a native handler: records, versions, revocations, disputes
(contracts/src/CreditRegistry.vy).

Rows: records (one per version, with the block position of the transaction that wrote it), the
enterprise index (an enterprise's versions in publish order, `CHUNK_RECORDS` a row, chunk 0
with the count), disputes, and the setting `dispute_window`. Role questions go to
`consortium.has_role` directly: no cross-contract call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chain.engine import consortium, publishers
from chain.engine.abi import Revert, event_log, require
from chain.engine.context import CallContext, HandlerResult
from chain.engine.tables import (
    CHUNK_RECORDS,
    DISPUTE_WINDOW_SETTING,
    KEYS,
    WORD_BYTES,
    TableOverlay,
    short_word,
)
from chain.enterprise import is_credit_code_bytes32
from chain.execution import Log
from contracts import bindings
from contracts.events import (
    DisputeLapsed,
    DisputeOpened,
    DisputeResolved,
    DisputeResponded,
    RecordCorrected,
    RecordPublished,
    RecordRevoked,
)

ZERO = b"\0" * 32
ZERO_ADDRESS = b"\0" * 20
ACTIVE = int(bindings.RecordStatus.ACTIVE)
CORRECTED = int(bindings.RecordStatus.CORRECTED)
REVOKED = int(bindings.RecordStatus.REVOKED)
OPEN = int(bindings.DisputeStatus.OPEN)
RESPONDED = int(bindings.DisputeStatus.RESPONDED)
UPHELD = int(bindings.DisputeStatus.UPHELD)
REJECTED = int(bindings.DisputeStatus.REJECTED)
LAPSED = int(bindings.DisputeStatus.LAPSED)
RECORD_FIELDS = "sbiiiiiibb"  # the publisher by number (`chain.engine.publishers`)
FIRST_CHUNK_FIELDS = "ib"  # chunk 0 of an enterprise's index: count, record ids
CHUNK_FIELDS = "b"  # any later chunk: record ids
DISPUTE_FIELDS = "bbbbiii"


def _word(value: int | bytes) -> bytes:
    assert isinstance(value, bytes)
    return value.rjust(32, b"\0")


def _address(value: int | bytes) -> bytes:
    assert isinstance(value, bytes)
    return value.rjust(20, b"\0")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record version; `status` zero means no such record."""

    enterprise: bytes
    payload_hash: bytes
    publisher: bytes
    kind: int
    status: int
    version: int
    published_at: int
    position: int
    """Index in block `published_at` of the transaction that wrote this version."""
    previous: bytes
    next: bytes


@dataclass(frozen=True, slots=True)
class StoredDispute:
    """One dispute; `status` zero means no such dispute."""

    record_id: bytes
    opener: bytes
    reason_hash: bytes
    response_hash: bytes
    status: int
    opened_at: int
    deadline: int


def load_record(tables: TableOverlay, record_id: bytes) -> StoredRecord:
    """A record version, all zeros when unknown."""
    f = tables.read(KEYS.record(record_id), RECORD_FIELDS)
    return StoredRecord(_word(f[0]), _word(f[1]), publishers.address_of(tables, int(f[2])),
                        int(f[3]), int(f[4]), int(f[5]), int(f[6]), int(f[7]), _word(f[8]),
                        _word(f[9]))


def save_record(tables: TableOverlay, record_id: bytes, record: StoredRecord) -> None:
    """Write a record version."""
    tables.write(KEYS.record(record_id), (
        short_word(record.enterprise), record.payload_hash,
        publishers.assign_number(tables, record.publisher), record.kind,
        record.status, record.version, record.published_at, record.position, record.previous,
        record.next))


def load_dispute(tables: TableOverlay, dispute_id: bytes) -> StoredDispute:
    """A dispute, all zeros when unknown."""
    f = tables.read(KEYS.dispute(dispute_id), DISPUTE_FIELDS)
    return StoredDispute(_word(f[0]), _address(f[1]), _word(f[2]), _word(f[3]), int(f[4]),
                         int(f[5]), int(f[6]))


def save_dispute(tables: TableOverlay, dispute_id: bytes, dispute: StoredDispute) -> None:
    """Write a dispute."""
    tables.write(KEYS.dispute(dispute_id), (
        dispute.record_id, dispute.opener, dispute.reason_hash, dispute.response_hash,
        dispute.status, dispute.opened_at, dispute.deadline))


def record_count(tables: TableOverlay, enterprise: bytes) -> int:
    """Versions indexed under an enterprise (chunk 0 of its index)."""
    count, _ = tables.read(KEYS.enterprise_chunk(enterprise, 0), FIRST_CHUNK_FIELDS)
    return int(count)


def dispute_window(tables: TableOverlay) -> int:
    """Blocks a publisher has to answer a dispute (immutable)."""
    (window,) = tables.read(DISPUTE_WINDOW_SETTING, "i")
    return int(window)


def _append_to_index(tables: TableOverlay, enterprise: bytes, record_id: bytes) -> None:
    """Append a version to the enterprise's index: chunk 0 takes the new count, the last
    chunk the record id (one row when they are the same)."""
    first_key = KEYS.enterprise_chunk(enterprise, 0)
    count, first_ids = tables.read(first_key, FIRST_CHUNK_FIELDS)
    assert isinstance(count, int) and isinstance(first_ids, bytes)
    chunk = count // CHUNK_RECORDS
    if chunk == 0:
        tables.write(first_key, (count + 1, first_ids + record_id))
        return
    last_key = KEYS.enterprise_chunk(enterprise, chunk)
    (ids,) = tables.read(last_key, CHUNK_FIELDS)
    assert isinstance(ids, bytes)
    tables.write(last_key, (ids + record_id,))
    tables.write(first_key, (count + 1, first_ids))


def _registry_log(context: CallContext, event: bindings.Event) -> Log:
    return event_log(context.addresses.registry, event)


def _require_role(tables: TableOverlay, context: CallContext, role: int, reason: str) -> None:
    require(consortium.has_role(tables, context.sender, role), reason)


def construct(tables: TableOverlay, window: int) -> HandlerResult:
    """The constructor: the dispute window (the Consortium address is the genesis one)."""
    require(window != 0, "zero window")
    tables.write(DISPUTE_WINDOW_SETTING, (window,))
    return HandlerResult()


def _publish(tables: TableOverlay, context: CallContext, record_id: bytes, enterprise: bytes,
             kind: int, payload_hash: bytes) -> Log:
    require(record_id != ZERO, "zero record id")
    require(enterprise != ZERO, "zero enterprise")
    require(is_credit_code_bytes32(enterprise), "bad enterprise")
    require(payload_hash != ZERO, "zero hash")
    require(kind < bindings.RECORD_KIND_COUNT, "bad kind")
    require(load_record(tables, record_id).status == 0, "record exists")
    save_record(tables, record_id, StoredRecord(
        enterprise, payload_hash, context.sender, kind, ACTIVE, 1, context.height,
        context.position, ZERO, ZERO))
    _append_to_index(tables, enterprise, record_id)
    return _registry_log(context, RecordPublished(
        record_id, enterprise, context.sender, kind, payload_hash, 1))


def publish(tables: TableOverlay, context: CallContext, record_id: bytes, enterprise: bytes,
            kind: int, payload_hash: bytes) -> HandlerResult:
    """Publish version 1 of a record."""
    _require_role(tables, context, bindings.ROLE_PUBLISHER, "not a publisher")
    return HandlerResult(logs=(
        _publish(tables, context, record_id, enterprise, kind, payload_hash),))


def publish_batch(tables: TableOverlay, context: CallContext, record_ids: Sequence[bytes],
                  enterprises: Sequence[bytes], kinds: Sequence[int],
                  payload_hashes: Sequence[bytes]) -> HandlerResult:
    """Publish up to 64 records at once, all or nothing."""
    _require_role(tables, context, bindings.ROLE_PUBLISHER, "not a publisher")
    count = len(record_ids)
    require(count != 0, "empty batch")
    require(len(enterprises) == count and len(kinds) == count and len(payload_hashes) == count,
            "length mismatch")
    return HandlerResult(logs=tuple(
        _publish(tables, context, *item)
        for item in zip(record_ids, enterprises, kinds, payload_hashes, strict=True)))


def correct(tables: TableOverlay, context: CallContext, old_record_id: bytes,
            new_record_id: bytes, payload_hash: bytes) -> HandlerResult:
    """Replace an active record by a new version with a new payload."""
    old = load_record(tables, old_record_id)
    require(old.status != 0, "unknown record")
    require(old.publisher == context.sender, "not the publisher")
    _require_role(tables, context, bindings.ROLE_PUBLISHER, "not a publisher")
    require(old.status == ACTIVE, "record not active")
    require(new_record_id != ZERO, "zero record id")
    require(payload_hash != ZERO, "zero hash")
    require(load_record(tables, new_record_id).status == 0, "record exists")
    version = old.version + 1
    save_record(tables, old_record_id, StoredRecord(
        old.enterprise, old.payload_hash, old.publisher, old.kind, CORRECTED, old.version,
        old.published_at, old.position, old.previous, new_record_id))
    save_record(tables, new_record_id, StoredRecord(
        old.enterprise, payload_hash, context.sender, old.kind, ACTIVE, version, context.height,
        context.position, old_record_id, ZERO))
    _append_to_index(tables, old.enterprise, new_record_id)
    return HandlerResult(logs=(_registry_log(context, RecordCorrected(
        old_record_id, new_record_id, old.enterprise, payload_hash, version)),))


def _revoke(tables: TableOverlay, context: CallContext, record_id: bytes, record: StoredRecord,
            reason: int) -> Log:
    save_record(tables, record_id, StoredRecord(
        record.enterprise, record.payload_hash, record.publisher, record.kind, REVOKED,
        record.version, record.published_at, record.position, record.previous, record.next))
    return _registry_log(context, RecordRevoked(record_id, record.enterprise, reason))


def revoke(tables: TableOverlay, context: CallContext, record_id: bytes,
           reason: int) -> HandlerResult:
    """Revoke an active record: its publisher, or a regulator."""
    record = load_record(tables, record_id)
    require(record.status != 0, "unknown record")
    if record.publisher == context.sender:
        _require_role(tables, context, bindings.ROLE_PUBLISHER, "not a publisher")
    else:
        _require_role(tables, context, bindings.ROLE_REGULATOR, "not publisher or regulator")
    require(record.status == ACTIVE, "record not active")
    return HandlerResult(logs=(_revoke(tables, context, record_id, record, reason),))


def open_dispute(tables: TableOverlay, context: CallContext, dispute_id: bytes, record_id: bytes,
                 reason_hash: bytes) -> HandlerResult:
    """Open a dispute over an active record; the publisher has the window to respond."""
    _require_role(tables, context, bindings.ROLE_QUERIER | bindings.ROLE_REGULATOR,
                  "not querier or regulator")
    require(dispute_id != ZERO, "zero dispute id")
    require(reason_hash != ZERO, "zero hash")
    require(load_dispute(tables, dispute_id).status == 0, "dispute exists")
    record = load_record(tables, record_id)
    require(record.status != 0, "unknown record")
    require(record.status == ACTIVE, "record not active")
    deadline = context.height + dispute_window(tables)
    save_dispute(tables, dispute_id, StoredDispute(
        record_id, context.sender, reason_hash, ZERO, OPEN, context.height, deadline))
    return HandlerResult(logs=(_registry_log(context, DisputeOpened(
        dispute_id, record_id, context.sender, deadline)),))


def respond(tables: TableOverlay, context: CallContext, dispute_id: bytes,
            response_hash: bytes) -> HandlerResult:
    """The record's publisher answers an open dispute before its deadline."""
    dispute = load_dispute(tables, dispute_id)
    require(dispute.status != 0, "unknown dispute")
    require(dispute.status == OPEN, "dispute not open")
    require(context.height <= dispute.deadline, "deadline passed")
    record = load_record(tables, dispute.record_id)
    require(record.publisher == context.sender, "not the publisher")
    _require_role(tables, context, bindings.ROLE_PUBLISHER, "not a publisher")
    require(response_hash != ZERO, "zero hash")
    save_dispute(tables, dispute_id, StoredDispute(
        dispute.record_id, dispute.opener, dispute.reason_hash, response_hash, RESPONDED,
        dispute.opened_at, dispute.deadline))
    return HandlerResult(logs=(_registry_log(context, DisputeResponded(
        dispute_id, response_hash)),))


def resolve(tables: TableOverlay, context: CallContext, dispute_id: bytes,
            upheld: bool) -> HandlerResult:
    """A regulator closes a dispute; upholding it revokes the record if still active."""
    _require_role(tables, context, bindings.ROLE_REGULATOR, "not a regulator")
    dispute = load_dispute(tables, dispute_id)
    require(dispute.status != 0, "unknown dispute")
    require(dispute.status in (OPEN, RESPONDED, LAPSED), "dispute closed")
    save_dispute(tables, dispute_id, StoredDispute(
        dispute.record_id, dispute.opener, dispute.reason_hash, dispute.response_hash,
        UPHELD if upheld else REJECTED, dispute.opened_at, dispute.deadline))
    logs = [_registry_log(context, DisputeResolved(dispute_id, upheld))]
    if upheld:
        record = load_record(tables, dispute.record_id)
        if record.status == ACTIVE:
            logs.append(_revoke(tables, context, dispute.record_id, record,
                                bindings.UPHELD_DISPUTE_REASON))
    return HandlerResult(logs=tuple(logs))


def lapse(tables: TableOverlay, context: CallContext, dispute_id: bytes) -> HandlerResult:
    """Anyone marks an unanswered dispute lapsed once its deadline has passed."""
    dispute = load_dispute(tables, dispute_id)
    require(dispute.status != 0, "unknown dispute")
    require(dispute.status == OPEN, "dispute not open")
    require(context.height > dispute.deadline, "deadline not passed")
    save_dispute(tables, dispute_id, StoredDispute(
        dispute.record_id, dispute.opener, dispute.reason_hash, dispute.response_hash, LAPSED,
        dispute.opened_at, dispute.deadline))
    return HandlerResult(logs=(_registry_log(context, DisputeLapsed(dispute_id)),))


def _record_view(tables: TableOverlay, record_id: bytes) -> tuple[Any, ...]:
    r = load_record(tables, record_id)
    return (r.enterprise, r.kind, r.payload_hash, r.publisher, r.version, r.previous, r.next,
            r.status, r.published_at)


def _record_at(tables: TableOverlay, enterprise: bytes, index: int) -> tuple[Any, ...]:
    if index >= record_count(tables, enterprise):
        raise Revert("index out of range")
    chunk, offset = divmod(index, CHUNK_RECORDS)
    ids = tables.read(KEYS.enterprise_chunk(enterprise, chunk),
                      FIRST_CHUNK_FIELDS if chunk == 0 else CHUNK_FIELDS)[-1]
    assert isinstance(ids, bytes)
    return (ids[offset * WORD_BYTES:(offset + 1) * WORD_BYTES],)


def _dispute_view(tables: TableOverlay, dispute_id: bytes) -> tuple[Any, ...]:
    d = load_dispute(tables, dispute_id)
    return (d.record_id, d.opener, d.reason_hash, d.response_hash, d.status, d.opened_at,
            d.deadline)


def views(tables: TableOverlay, context: CallContext) -> dict[str, Callable[..., tuple[Any, ...]]]:
    """The contract's views by function name."""
    return {
        "record": lambda record_id: _record_view(tables, record_id),
        "record_count": lambda enterprise: (record_count(tables, enterprise),),
        "record_at": lambda enterprise, index: _record_at(tables, enterprise, index),
        "dispute": lambda dispute_id: _dispute_view(tables, dispute_id),
        "dispute_window": lambda: (dispute_window(tables),),
        "consortium": lambda: (context.addresses.consortium,),
    }


TRANSACTIONS: dict[str, Callable[..., HandlerResult]] = {
    "publish": publish, "publish_batch": publish_batch, "correct": correct, "revoke": revoke,
    "open_dispute": open_dispute, "respond": respond, "resolve": resolve, "lapse": lapse,
}
"""The state-changing functions by name: (tables, context, *arguments) -> result."""
