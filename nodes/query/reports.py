"""Signed queries: verify the request, check consent on chain, assemble the report.

The query hot path, in order (each step refuses before the next costs anything):

1. `RequestVerifier.verify`: parse the three headers, check the timestamp window, recover the
   signer once (EIP-191, coincurve; no eth_account), then refuse a nonce the signer already used
   within the window (`ReplayGuard`, bounded).
2. The signer must be an active member holding the querier role (the ledger's membership table,
   no contract call).
3. `ConsentBook.grant`: the enterprise's grant to this querier, read with one `grant_of` call and
   cached per (enterprise, querier) until a GrantIssued or GrantRevoked event for the pair
   commits; expiry is checked against the node's wall clock on every query.
4. The enterprise's records come from the ledger's index (no contract call); payloads from the
   node's record store or the origin city's nodes (`nodes.query.payloads`), each checked against its
   on-chain hash; `assemble_report` builds the answer with provenance per record.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain.cities import city_by_number
from chain.codec import Member, RecordEntry
from chain.crypto import Address, address_text
from chain.enterprise import EnterpriseId
from chain.errors import (
    ConsentMissing,
    MemberSuspended,
    MissingRole,
    NotAMember,
    RateLimited,
    ReplayedRequest,
    StaleRequest,
    YrdError,
)
from chain.indexer import BlockEvent
from chain.json_document import decode_json
from chain.ledger import Ledger
from chain.records import RecordKind
from contracts import bindings
from nodes.query.payloads import PayloadResult, PayloadStatus
from nodes.query.request_signing import parse_request_signature, recover_request_signer

REQUEST_WINDOW_MS = 30_000  # a signed request is accepted this long before and after its time
MAX_REMEMBERED_NONCES = 500_000  # 2 windows at 4,000 queries/s; beyond it new requests wait
MAX_CACHED_GRANTS = 200_000  # (enterprise, querier) pairs
MAX_CACHED_ENTERPRISE_KEYS = 200_000
MAX_CACHED_ENTERPRISES = 100_000  # enterprises whose decoded record versions are kept
ZERO_ADDRESS = b"\0" * 20
STATUS_ACTIVE = int(bindings.InstitutionStatus.ACTIVE)
STATUS_REVOKED = int(bindings.RecordStatus.REVOKED)
KIND_NAMES = tuple(kind.name.lower() for kind in RecordKind)  # enum lookups are slow on the
KIND_NAMES_ZH = tuple(kind.label_zh for kind in RecordKind)  # hot path: tables instead
RECORD_STATUS_NAMES = {int(status): status.name.lower() for status in bindings.RecordStatus}


class ReplayGuard:
    """Nonces seen per signer within the window, forgotten in insertion order (bounded)."""

    def __init__(self, window_ms: int = REQUEST_WINDOW_MS,
                 capacity: int = MAX_REMEMBERED_NONCES) -> None:
        self.window_ms = window_ms
        self.capacity = capacity
        self._seen: OrderedDict[tuple[bytes, str], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def check_time(self, timestamp_ms: int, now_ms: int) -> None:
        """StaleRequest unless the timestamp is within the window around `now_ms`."""
        skew = timestamp_ms - now_ms
        if abs(skew) > self.window_ms:
            raise StaleRequest(
                f"request timestamp {timestamp_ms} is {skew / 1000:+.1f} s from the node's "
                f"clock; at most {self.window_ms / 1000:g} s either way is accepted",
                field="x-yrd-timestamp")

    def remember(self, signer: Address, nonce: str, now_ms: int) -> None:
        """Record a nonce; ReplayedRequest if the signer used it within the window."""
        # An entry may go once its request's timestamp left the window: its insertion time
        # (at most one window after that timestamp) plus two windows.
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest + 2 * self.window_ms >= now_ms:
                break
            self._seen.popitem(last=False)
        key = (signer, nonce)
        if key in self._seen:
            raise ReplayedRequest(
                f"nonce {nonce!r} was already used by 0x{signer.hex()}; sign each request "
                "with a fresh nonce", field="x-yrd-nonce")
        if len(self._seen) >= self.capacity:
            raise RateLimited("the node's replay cache is full; retry in a few seconds",
                              field="x-yrd-nonce")
        self._seen[key] = now_ms


class RequestVerifier:
    """Checks signed requests addressed to one node of one chain."""

    def __init__(self, chain_id: int, node_id: str, guard: ReplayGuard | None = None) -> None:
        self.chain_id = chain_id
        self.node_id = node_id
        self.guard = guard or ReplayGuard()
        self.verifications = 0

    def verify(self, method: str, path: str, headers: Mapping[str, str], now_ms: int) -> Address:
        """The signer of a request; Unauthenticated, StaleRequest, BadSignature or Replayed."""
        signed = parse_request_signature(headers.get("x-yrd-timestamp"),
                                         headers.get("x-yrd-nonce"),
                                         headers.get("x-yrd-signature"))
        self.guard.check_time(signed.timestamp_ms, now_ms)
        self.verifications += 1
        signer = recover_request_signer(self.chain_id, self.node_id, method, path, signed)
        self.guard.remember(signer, signed.nonce, now_ms)
        return signer


def require_role(members: Mapping[bytes, Member], account: Address, role: int,
                 what: str) -> Member:
    """The active member `account` holding `role`; NotAMember, MemberSuspended or MissingRole."""
    member = members.get(account)
    if member is None:
        raise NotAMember(f"0x{account.hex()} is not an admitted institution", field="signature")
    if member.status != STATUS_ACTIVE:
        raise MemberSuspended(f"{member.name} (0x{account.hex()}) is not active", "signature")
    if not member.roles & role:
        raise MissingRole(f"{what} needs the {_role_name(role)} role; {member.name} lacks it",
                          field="signature")
    return member


def _role_name(role: int) -> str:
    names = {bindings.ROLE_QUERIER: "querier", bindings.ROLE_REGULATOR: "regulator",
             bindings.ROLE_PUBLISHER: "publisher", bindings.ROLE_NODE: "node"}
    return " or ".join(name for bit, name in names.items() if role & bit)


@dataclass(frozen=True, slots=True)
class Grant:
    """An enterprise's grant to one querier, as the Authorization contract holds it."""

    scope: int
    expires_at_s: int
    revoked: bool
    granted_at_s: int

    def valid_at(self, now_ms: int) -> bool:
        """Issued, not revoked, and not expired at `now_ms`."""
        return self.granted_at_s > 0 and not self.revoked and now_ms < self.expires_at_s * 1000

    def kinds(self) -> list[str]:
        """The record kinds in scope, by name."""
        return [name for bit, name in enumerate(KIND_NAMES) if self.scope >> bit & 1]


class ConsentBook:
    """Grants and enterprise keys read from the Authorization contract, cached until they change.

    `on_commit` drops the entries a committed block's events touch, so a cached answer is always
    the head's answer. `calls` counts contract calls made, `hits` answers from the cache.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls = 0
        self.hits = 0
        self._grants: OrderedDict[tuple[bytes, bytes], Grant] = OrderedDict()
        self._keys: OrderedDict[bytes, bytes] = OrderedDict()

    def grant(self, enterprise: bytes, querier: Address) -> Grant:
        """The grant (all zero when none was issued) of `enterprise` to `querier`."""
        key = (enterprise, querier)
        cached = self._grants.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.calls += 1
        view = bindings.decode_grant(self.ledger.call(
            self.ledger.contracts.authorization,
            bindings.encode_grant_of(enterprise, querier)).output)
        grant = Grant(view.scope, view.expires_at, view.revoked, view.granted_at)
        self._grants[key] = grant
        if len(self._grants) > MAX_CACHED_GRANTS:
            self._grants.popitem(last=False)
        return grant

    def enterprise_key(self, enterprise: bytes) -> Address | None:
        """The account whose signatures speak for the enterprise, or None if unregistered."""
        cached = self._keys.get(enterprise)
        if cached is not None:
            self.hits += 1
            return cached if cached != ZERO_ADDRESS else None
        self.calls += 1
        key = bindings.decode_address(self.ledger.call(
            self.ledger.contracts.authorization,
            bindings.encode_enterprise_key(enterprise)).output)
        self._keys[enterprise] = key
        if len(self._keys) > MAX_CACHED_ENTERPRISE_KEYS:
            self._keys.popitem(last=False)
        return key if key != ZERO_ADDRESS else None

    def require_grant(self, enterprise: EnterpriseId, querier: Address, now_ms: int) -> Grant:
        """A grant valid at `now_ms`; ConsentMissing (403) saying why there is none."""
        grant = self.grant(enterprise.to_bytes32(), querier)
        if grant.granted_at_s == 0:
            raise ConsentMissing(f"enterprise {enterprise.code} has not authorized "
                                 f"0x{querier.hex()}; ask it to sign a grant", field="grant")
        if grant.revoked:
            raise ConsentMissing(f"enterprise {enterprise.code} revoked its grant to "
                                 f"0x{querier.hex()}", field="grant")
        if now_ms >= grant.expires_at_s * 1000:
            raise ConsentMissing(f"the grant of {enterprise.code} to 0x{querier.hex()} expired "
                                 f"at {grant.expires_at_s} (Unix seconds)", field="grant")
        return grant

    def on_commit(self, events: Sequence[BlockEvent]) -> None:
        """Forget what a committed block's Authorization events (decoded once) changed."""
        authorization = self.ledger.contracts.authorization
        for item in events:
            if item.address != authorization:
                continue
            event = item.event
            if isinstance(event, bindings.GrantIssued | bindings.GrantRevoked):
                self._grants.pop((event.enterprise, event.querier), None)
            elif isinstance(event, bindings.EnterpriseRegistered):
                self._keys.pop(event.enterprise, None)


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


def record_summary(entry: RecordEntry, members: Mapping[bytes, Member]) -> dict[str, Any]:
    """A record version's on-chain facts (no payload), as the explorer and reports show them."""
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
        "provenance": record_provenance(entry, members),
    }


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
                    node: dict[str, Any], height: int, now_ms: int) -> dict[str, Any]:
    """The report: each record version with its payload status, payload and provenance.

    A payload is served only when its bytes hash to the on-chain hash ("verified"); "tampered",
    "unavailable" and "not_uploaded" carry no content, only what went wrong.
    """
    records = []
    counts = {status.value: 0 for status in PayloadStatus}
    for entry in entries:
        item = record_summary(entry, members)
        result = payloads.get(entry.payload_hash)
        detail: str | None
        if entry.status == STATUS_REVOKED:
            status, content, detail, served_by = PayloadStatus.WITHHELD, None, (
                "the record is revoked; its content is not served"), None
        elif result is None:
            status, content, detail, served_by = PayloadStatus.UNAVAILABLE, None, (
                "no node of the origin city answered"), None
        else:
            status, detail, served_by = result.status, result.detail, result.node_id
            content = _parse_payload(result.payload) if status is PayloadStatus.VERIFIED else None
        counts[status.value] += 1
        item["payload_status"] = status.value
        item["payload"] = content
        item["payload_detail"] = detail
        item["provenance"]["origin_node"] = served_by
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


def _parse_payload(payload: bytes | None) -> Any:
    if payload is None:
        return None
    try:
        return decode_json(payload, "payload")
    except YrdError:
        return {"raw_hex": "0x" + payload.hex()}
