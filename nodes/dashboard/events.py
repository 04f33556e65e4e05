"""Dashboard events derived from a committed block's receipts.

`chain_events` is pure: a block's height and receipts in, plain dict events
out (`record_published`, `record_corrected`, `record_revoked`, `grant`, `grant_revoked`,
`audit_anchor`, `dispute`), each keyed by transaction hash and log index so a viewer that hears
the same block from several nodes can merge them. `announce_commit` is the runtime's hook: it
reads names and cities from the ledger and emits the events on the node's stream.
Shapes: docs/spec/dashboard-events.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from chain.cities import city_by_number, city_of_region_code
from chain.crypto import checksum_address, keccak
from chain.errors import NotFound
from chain.execution import Receipt
from chain.indexer import BlockEvent
from chain.presets import Preset
from chain.records import RecordKind
from contracts import bindings

if TYPE_CHECKING:
    from chain.ledger import CommittedBlock
    from nodes.runtime.node import NodeRuntime

MAX_CHAIN_EVENTS_PER_BLOCK = 64  # a burst block is summarised rather than flood every viewer

WANTED_EVENTS = (
    bindings.RecordPublished, bindings.RecordCorrected, bindings.RecordRevoked,
    bindings.GrantIssued, bindings.GrantRevoked, bindings.AuditAnchored,
    bindings.DisputeOpened, bindings.DisputeResponded, bindings.DisputeResolved,
    bindings.DisputeLapsed,
)
WANTED_TOPICS = frozenset(bindings.event_topic(event_class) for event_class in WANTED_EVENTS)

MemberLookup = Callable[[bytes], tuple[str, str] | None]
"""Account address -> (city id, institution name), or None for an unknown account."""
RecordLookup = Callable[[bytes], tuple[str, str] | None]
"""Record id -> (enterprise credit code, origin city id), or None for an unknown record."""


@dataclass(frozen=True, slots=True)
class Directory:
    """Who is who, for naming the parties of an event.

    member: institutions by address. record: records by id (disputes name only the record).
    audit_nodes: the bytes32 node id of an audit anchor -> the node id string.
    """

    member: MemberLookup
    record: RecordLookup
    audit_nodes: Mapping[bytes, str]


def enterprise_city(code: str) -> str | None:
    """The city of an enterprise, from the region digits of its credit code."""
    city = city_of_region_code(code[2:8]) if len(code) == 18 else None
    return city.value if city else None


def audit_node_ids(preset: Preset) -> dict[bytes, str]:
    """The bytes32 forms a node id may take in an audit anchor -> the node id.

    Its Ed25519 public key, the keccak of its name, or its name in ASCII padded to 32 bytes.
    """
    found: dict[bytes, str] = {}
    for node in preset.nodes:
        name = node.node_id.encode("ascii")
        found[preset.node_public_key(node.node_id)] = node.node_id
        found[keccak(name)] = node.node_id
        found[name.ljust(32, b"\0")] = node.node_id
    return found


@dataclass(frozen=True, slots=True)
class SelectedLogs:
    """The logs of a block the dashboard shows (at most MAX_CHAIN_EVENTS_PER_BLOCK), with their
    decoded events where the ledger decoded them, and how many more there were."""

    height: int
    logs: tuple[tuple[bytes, int, Any, bindings.Event | None], ...]
    elided: int


def select_logs(height: int, receipts: Sequence[Receipt],
                decoded: Sequence[BlockEvent] | None = None) -> SelectedLogs:
    """Pick the wanted logs of a block's successful receipts (cheap: topics only)."""
    known = None if decoded is None else {
        (item.transaction_hash, item.log_index): item.event for item in decoded}
    found: list[tuple[bytes, int, Any, bindings.Event | None]] = []
    elided = 0
    for receipt in receipts:
        if receipt.status != 1:
            continue
        for log_index, log in enumerate(receipt.logs):
            if not log.topics or bytes(log.topics[0]) not in WANTED_TOPICS:
                continue
            if len(found) >= MAX_CHAIN_EVENTS_PER_BLOCK:
                elided += 1
                continue
            event = None if known is None else known.get((receipt.transaction_hash, log_index))
            found.append((receipt.transaction_hash, log_index, log, event))
    return SelectedLogs(height, tuple(found), elided)


def shape_selected(selected: SelectedLogs, directory: Directory,
                   decode_missing: bool) -> list[dict[str, Any]]:
    """The dashboard events of selected logs (`decode_missing`: decode a log the ledger did not
    decode; False when the ledger's decoded events were given, as then it holds no event)."""
    found: list[dict[str, Any]] = []
    for transaction_hash, log_index, log, event in selected.logs:
        if event is None and decode_missing:
            event = bindings.decode_event(log.topics, log.data)
        if event is None:
            continue
        shaped = _shape(event, directory)
        shaped.update({"height": selected.height,
                       "transaction": "0x" + transaction_hash.hex(),
                       "key": f"0x{transaction_hash.hex()}:{log_index}"})
        found.append(shaped)
    if selected.elided:
        found.append({"type": "events_elided", "height": selected.height,
                      "count": selected.elided, "key": f"elided:{selected.height}"})
    return found


def chain_events(height: int, receipts: Sequence[Receipt], directory: Directory,
                 decoded: Sequence[BlockEvent] | None = None) -> list[dict[str, Any]]:
    """The dashboard events of one committed block, at most MAX_CHAIN_EVENTS_PER_BLOCK.

    When a block carries more, the rest are counted in one `events_elided` event. `decoded`:
    the block's events as the ledger decoded them once (decoded here when not given).
    """
    return shape_selected(select_logs(height, receipts, decoded), directory, decoded is None)


def _code(enterprise: bytes) -> str:
    return bindings.decode_enterprise_id(enterprise)


def _party(directory: Directory, address: bytes) -> dict[str, Any]:
    known = directory.member(address)
    return {"address": checksum_address(address), "city": known[0] if known else None,
            "name": known[1] if known else None}


def _kind(number: int) -> dict[str, Any]:
    try:
        kind = RecordKind(number)
    except ValueError:
        return {"kind": number, "kind_en": f"kind {number}", "kind_zh": f"类别 {number}"}
    return {"kind": number, "kind_en": kind.label, "kind_zh": kind.label_zh}


def _record_fields(directory: Directory, record_id: bytes) -> dict[str, Any]:
    known = directory.record(record_id)
    if known is None:
        return {"record_id": "0x" + record_id.hex()}
    return {"record_id": "0x" + record_id.hex(), "enterprise": known[0],
            "enterprise_city": enterprise_city(known[0]), "origin_city": known[1]}


def _shape(event: bindings.Event, directory: Directory) -> dict[str, Any]:
    match event:
        case bindings.RecordPublished():
            code = _code(event.enterprise)
            publisher = _party(directory, event.publisher)
            return {"type": "record_published", "record_id": "0x" + event.record_id.hex(),
                    "enterprise": code, "enterprise_city": enterprise_city(code),
                    "origin_city": publisher["city"], "publisher": publisher["address"],
                    "publisher_name": publisher["name"], "version": event.version,
                    "payload_hash": "0x" + event.payload_hash.hex(), **_kind(event.kind)}
        case bindings.RecordCorrected():
            code = _code(event.enterprise)
            return {**_record_fields(directory, event.new_record_id),
                    "type": "record_corrected", "enterprise": code,
                    "enterprise_city": enterprise_city(code),
                    "old_record_id": "0x" + event.old_record_id.hex(),
                    "version": event.version}
        case bindings.RecordRevoked():
            code = _code(event.enterprise)
            return {**_record_fields(directory, event.record_id), "type": "record_revoked",
                    "enterprise": code, "enterprise_city": enterprise_city(code),
                    "reason": event.reason}
        case bindings.GrantIssued() | bindings.GrantRevoked():
            code = _code(event.enterprise)
            querier = _party(directory, event.querier)
            shaped: dict[str, Any] = {
                "type": "grant" if isinstance(event, bindings.GrantIssued) else "grant_revoked",
                "enterprise": code, "enterprise_city": enterprise_city(code),
                "querier": querier["address"], "querier_name": querier["name"],
                "querier_city": querier["city"]}
            if isinstance(event, bindings.GrantIssued):
                shaped.update({"scope": event.scope, "expires_at": event.expires_at})
            return shaped
        case bindings.AuditAnchored():
            node_id = directory.audit_nodes.get(event.node_id)
            return {"type": "audit_anchor", "audit_node": node_id or "0x" + event.node_id.hex(),
                    "batch_seq": event.batch_seq, "entry_count": event.entry_count,
                    "merkle_root": "0x" + event.merkle_root.hex()}
        case bindings.DisputeOpened():
            opener = _party(directory, event.opener)
            return {**_record_fields(directory, event.record_id), "type": "dispute",
                    "phase": "opened", "dispute_id": "0x" + event.dispute_id.hex(),
                    "opener": opener["address"], "opener_name": opener["name"],
                    "deadline": event.deadline}
        case bindings.DisputeResponded():
            return {"type": "dispute", "phase": "responded",
                    "dispute_id": "0x" + event.dispute_id.hex()}
        case bindings.DisputeResolved():
            return {"type": "dispute", "phase": "resolved",
                    "dispute_id": "0x" + event.dispute_id.hex(), "upheld": event.upheld}
        case bindings.DisputeLapsed():
            return {"type": "dispute", "phase": "lapsed",
                    "dispute_id": "0x" + event.dispute_id.hex()}
    return {"type": type(event).__name__}


@cache
def _audit_nodes_of(preset: Preset) -> dict[bytes, str]:
    return audit_node_ids(preset)


def ledger_directory(runtime: NodeRuntime) -> Directory:
    """A Directory reading the runtime's ledger (membership table and record index)."""
    ledger = runtime.ledger

    def member(address: bytes) -> tuple[str, str] | None:
        found = ledger.members.get(address)
        if found is None:
            return None
        city = city_by_number(found.city)
        return (city.value if city else str(found.city), found.name)

    def record(record_id: bytes) -> tuple[str, str] | None:
        try:
            entry = ledger.record(record_id)
        except NotFound:
            return None
        city = city_by_number(entry.origin_city)
        return (entry.enterprise, city.value if city else str(entry.origin_city))

    return Directory(member, record, _audit_nodes_of(runtime.preset))


def announce_commit(runtime: NodeRuntime, committed: CommittedBlock) -> None:
    """Emit the dashboard events of a block the runtime just committed: shaped at once when a
    viewer listens, else only if the replay is read (a node nobody watches does not spend its
    CPU naming parties; the selection itself is small and bounded)."""
    if not committed.receipts:
        return
    selected = select_logs(committed.block.height, committed.receipts, committed.events)
    if not selected.logs and not selected.elided:
        return
    directory = ledger_directory(runtime)
    runtime.emit_deferred(lambda: shape_selected(selected, directory, False))
