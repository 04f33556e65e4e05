"""A report: the record versions a grant covers, their payloads checked, with provenance.

The enterprise's records come from the ledger's index (`EnterpriseRecords`, decoded once per
change); the shell finds the payloads (its record store or the origin city's nodes) and hands
them in as `PayloadResult`s, each checked against its on-chain hash by `check_bytes`;
`assemble_report` builds the answer. Pure functions over values: the node and the simulator
assemble the same report.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from chain.cities import city_by_number
from chain.codec import Member, RecordEntry
from chain.crypto import address_text, keccak
from chain.enterprise import EnterpriseId
from chain.errors import YrdError
from chain.indexer import BlockEvent
from chain.json_document import decode_json
from chain.ledger import Ledger
from chain.query.consent import KIND_NAMES, KIND_NAMES_ZH, Grant
from contracts import bindings

MAX_CACHED_ENTERPRISES = 100_000  # enterprises whose decoded record versions are kept
MAX_RECORD_VIEWS = 200_000  # record versions whose report facts are kept (then cleared)
STATUS_REVOKED = int(bindings.RecordStatus.REVOKED)
RECORD_STATUS_NAMES = {int(status): status.name.lower() for status in bindings.RecordStatus}


class PayloadStatus(Enum):
    """What a report says of a record's payload."""

    VERIFIED = "verified"
    TAMPERED = "tampered"
    UNAVAILABLE = "unavailable"
    NOT_UPLOADED = "not_uploaded"
    WITHHELD = "withheld"


STATUS_TEXT = {status: status.value for status in PayloadStatus}


@dataclass(frozen=True, slots=True)
class PayloadResult:
    """A payload looked up for a report: its status, bytes (verified only) and source node."""

    status: PayloadStatus
    payload: bytes | None
    node_id: str | None
    detail: str | None = None


def check_bytes(payload_hash: bytes, payload: bytes, node_id: str) -> PayloadResult:
    """Verified if the bytes hash to `payload_hash`, tampered otherwise (bytes dropped)."""
    actual = keccak(payload)
    if actual == payload_hash:
        return PayloadResult(PayloadStatus.VERIFIED, payload, node_id)
    return PayloadResult(PayloadStatus.TAMPERED, None, node_id,
                         f"payload held by {node_id} hashes to 0x{actual.hex()}, the chain says "
                         f"0x{payload_hash.hex()}")


class EnterpriseRecords:
    """An enterprise's record versions from the ledger's index, decoded once per change.

    `on_commit` forgets an enterprise when a committed block publishes, corrects or revokes one
    of its records (each of those events names the enterprise). The lists are shared: callers
    must not change them.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._entries: OrderedDict[str, list[RecordEntry]] = OrderedDict()

    def of(self, enterprise: str) -> list[RecordEntry]:
        """Every version of the enterprise's records, in publish order."""
        entries = self._entries.get(enterprise)
        if entries is None:
            entries = self.ledger.records_of(enterprise)
            self._entries[enterprise] = entries
            if len(self._entries) > MAX_CACHED_ENTERPRISES:
                self._entries.popitem(last=False)
        return entries

    def on_commit(self, events: Sequence[BlockEvent]) -> None:
        """Forget the enterprises a committed block's registry events (decoded once) touched."""
        registry = self.ledger.contracts.registry
        for item in events:
            event = item.event
            if item.address == registry and isinstance(
                    event, bindings.RecordPublished | bindings.RecordCorrected
                    | bindings.RecordRevoked):
                self._entries.pop(bindings.decode_enterprise_id(event.enterprise), None)


def city_name(number: int) -> str:
    """The lower-case name of a city number, or "unknown"."""
    city = city_by_number(number)
    return city.value if city is not None else "unknown"


def record_provenance(entry: RecordEntry, members: Mapping[bytes, Member]) -> dict[str, Any]:
    """Where a record version comes from: origin city, publisher, block and transaction."""
    publisher = members.get(entry.publisher)
    return {
        "origin_city": city_name(entry.origin_city),
        "publisher": address_text(entry.publisher),
        "publisher_name": publisher.name if publisher else None,
        "block_height": entry.height,
        "transaction_hash": "0x" + entry.transaction_hash.hex(),
    }


def record_facts(entry: RecordEntry) -> dict[str, Any]:
    """A record version's own on-chain facts (no provenance, no payload)."""
    known = entry.kind < len(KIND_NAMES)
    return {
        "record_id": "0x" + entry.record_id.hex(),
        "enterprise": entry.enterprise,
        "kind": KIND_NAMES[entry.kind] if known else str(entry.kind),
        "kind_zh": KIND_NAMES_ZH[entry.kind] if known else None,
        "version": entry.version,
        "status": RECORD_STATUS_NAMES.get(entry.status, str(entry.status)),
        "previous": "0x" + entry.previous.hex() if entry.previous else None,
        "next": "0x" + entry.next.hex() if entry.next else None,
        "payload_hash": "0x" + entry.payload_hash.hex(),
    }


def record_summary(entry: RecordEntry, members: Mapping[bytes, Member]) -> dict[str, Any]:
    """A record version's on-chain facts (no payload), as the explorer and reports show them."""
    return {**record_facts(entry), "provenance": record_provenance(entry, members)}


class RecordViews:
    """Each record version's facts and provenance, built once and shared by every report.

    Keyed by the `RecordEntry` object itself (the ledger's index hands the same objects out
    until a block changes the enterprise's records, and a changed version is a new object);
    a view also remembers the publisher's `Member` it named, and is rebuilt when the member
    changed. A verified version's whole report item is kept too, for as long as the same node
    serves the same bytes. The dicts are shared: callers copy before adding to them.
    """

    def __init__(self, capacity: int = MAX_RECORD_VIEWS) -> None:
        self.capacity = capacity
        self._views: dict[int, tuple[RecordEntry, Member | None, dict[str, Any],
                                     dict[str, Any]]] = {}
        self._verified: dict[int, tuple[RecordEntry, Member | None, str | None, bytes,
                                        dict[str, Any]]] = {}

    def verified_item(self, entry: RecordEntry, members: Mapping[bytes, Member],
                      result: PayloadResult, embed: Callable[[bytes | None], Any]
                      ) -> dict[str, Any]:
        """The report item of a version whose payload `result` verified (shared: read only)."""
        publisher = members.get(entry.publisher)
        payload = result.payload or b""
        kept = self._verified.get(id(entry))
        if (kept is not None and kept[0] is entry and kept[1] is publisher
                and kept[2] == result.node_id and kept[3] == payload):
            return kept[4]
        facts, provenance = self.of(entry, members)
        item = {**facts, "provenance": {**provenance, "origin_node": result.node_id},
                "payload_status": STATUS_TEXT[PayloadStatus.VERIFIED],
                "payload": embed(result.payload), "payload_detail": result.detail}
        if len(self._verified) >= self.capacity:
            self._verified.clear()
        self._verified[id(entry)] = (entry, publisher, result.node_id, payload, item)
        return item

    def of(self, entry: RecordEntry, members: Mapping[bytes, Member]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The version's facts and provenance (shared dicts: do not change them)."""
        publisher = members.get(entry.publisher)
        view = self._views.get(id(entry))
        if view is None or view[0] is not entry or view[1] is not publisher:
            if len(self._views) >= self.capacity:
                self._views.clear()
            view = (entry, publisher, record_facts(entry), record_provenance(entry, members))
            self._views[id(entry)] = view
        return view[2], view[3]


def in_scope(entries: list[RecordEntry], scope: int) -> tuple[list[RecordEntry], int]:
    """The versions a grant's scope covers, and how many it withholds."""
    covered = [entry for entry in entries if scope >> entry.kind & 1]
    return covered, len(entries) - len(covered)


def wanted_payloads(entries: list[RecordEntry]) -> list[RecordEntry]:
    """The versions whose payloads a report serves: every version not revoked."""
    return [entry for entry in entries if entry.status != STATUS_REVOKED]


def assemble_report(enterprise: EnterpriseId, querier: Member, grant: Grant,
                    entries: list[RecordEntry], withheld: int,
                    payloads: Mapping[bytes, PayloadResult], members: Mapping[bytes, Member],
                    node: dict[str, Any], height: int, now_ms: int,
                    embed: Callable[[bytes | None], Any] | None = None,
                    views: RecordViews | None = None) -> dict[str, Any]:
    """The report: each record version with its payload status, payload and provenance.

    A payload is served only when its bytes hash to the on-chain hash ("verified"); "tampered",
    "unavailable" and "not_uploaded" carry no content, only what went wrong. `embed` turns a
    verified payload's bytes into what the report holds (default: the parsed JSON document, or
    `{"raw_hex": ...}` when the bytes are not JSON); the node passes one that embeds the bytes
    unparsed. `views` keeps each version's facts between reports (built afresh without it).
    """
    embed = embed or parse_payload
    views = views or RecordViews()
    records = []
    counts = dict.fromkeys(STATUS_TEXT.values(), 0)
    verified = STATUS_TEXT[PayloadStatus.VERIFIED]
    for entry in entries:
        result = payloads.get(entry.payload_hash)
        if (result is not None and result.status is PayloadStatus.VERIFIED
                and entry.status != STATUS_REVOKED):
            counts[verified] += 1
            records.append(views.verified_item(entry, members, result, embed))
            continue
        facts, provenance = views.of(entry, members)
        detail: str | None
        if entry.status == STATUS_REVOKED:
            status, content, detail, served_by = PayloadStatus.WITHHELD, None, (
                "the record is revoked; its content is not served"), None
        elif result is None:
            status, content, detail, served_by = PayloadStatus.UNAVAILABLE, None, (
                "no node of the origin city answered"), None
        else:
            status, detail, served_by = result.status, result.detail, result.node_id
            content = embed(result.payload) if status is PayloadStatus.VERIFIED else None
        text = STATUS_TEXT[status]
        counts[text] += 1
        item = dict(facts)
        item["provenance"] = {**provenance, "origin_node": served_by}
        item["payload_status"] = text
        item["payload"] = content
        item["payload_detail"] = detail
        records.append(item)
    return {
        "enterprise": {"credit_code": enterprise.code, "city": enterprise.city.value},
        "querier": {"address": address_text(querier.address), "name": querier.name,
                    "city": city_name(querier.city)},
        "node": node,
        "height": height,
        "generated_at_ms": now_ms,
        "grant": {"scope": grant.kinds(), "expires_at": grant.expires_at_s,
                  "granted_at": grant.granted_at_s},
        "records": records,
        "summary": {"records": len(records), "withheld_out_of_scope": withheld, **counts},
    }


def parse_payload(payload: bytes | None) -> Any:
    """A payload as a report holds it: its JSON document, or its bytes in hex if not JSON."""
    if payload is None:
        return None
    try:
        return decode_json(payload, "payload")
    except YrdError:
        return {"raw_hex": "0x" + payload.hex()}
