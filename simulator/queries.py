"""The query path: a bank asks its city node for an enterprise's report.

A query is signed by the bank (secp256k1 over a digest of its fields). The serving node
recovers the signer and compares it with the bank's account, checks on chain that the
enterprise authorized this bank (`Authorization.is_authorized` through `Ledger.call`), reads the
enterprise's records from its index (`Ledger.records_of`), and fetches every payload it does
not hold from a reachable node of the record's origin city, checking each against its on-chain
hash. Before it answers it appends the query to its audit log, which lives in the node's store
(it survives a crash) and is anchored on chain in batches (`Authorization.anchor_audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chain.cities import City, city_by_number
from chain.crypto import PrivateKey, keccak, recover_address
from chain.errors import YrdError
from chain.merkle import merkle_root
from contracts import bindings
from simulator.host import SimulatedHost
from simulator.network import Network

META_AUDIT_COUNT = b"audit/count"
META_AUDIT_ANCHORED = b"audit/anchored"
META_AUDIT_ENTRY_PREFIX = b"audit/entry/"

SIZE_BYTES_QUERY_REQUEST = 256
"""A signed query request on the wire."""

SIZE_BYTES_REPORT_OVERHEAD = 512
"""A report's framing besides its payloads."""

COUNT_MAX_AUDIT_BATCH = 4_096
"""Entries anchored in one on-chain batch."""


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A bank's signed request for one enterprise's report."""

    query_id: int
    bank: str
    bank_address: bytes
    bank_city: City
    enterprise: str
    enterprise_city: City
    kind: int
    digest: bytes
    signature: tuple[int, int, int]
    issued_ms: float


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    """What the serving node did with a query."""

    served: bool
    reason: str
    records: int
    fetch_ms: float
    origin_cities: tuple[City, ...]
    report_bytes: int


def query_digest(query_id: int, bank_address: bytes, enterprise: str, kind: int) -> bytes:
    """What the bank signs."""
    return keccak(b"yrdchain-query:" + query_id.to_bytes(8, "big") + bank_address
                  + enterprise.encode("ascii") + bytes((kind,)))


def make_query(query_id: int, bank: str, key: PrivateKey, bank_city: City, enterprise: str,
               enterprise_city: City, kind: int, now_ms: float) -> QueryRequest:
    """Sign a query request."""
    digest = query_digest(query_id, key.address, enterprise, kind)
    return QueryRequest(query_id, bank, key.address, bank_city, enterprise, enterprise_city,
                        kind, digest, key.sign_hash(digest), now_ms)


def serve_query(node: SimulatedHost, request: QueryRequest, network: Network,
                payload_sources: Callable[[City], list[SimulatedHost]]) -> QueryOutcome:
    """Check and answer a query at `node`; the fetch time is the slowest remote payload."""
    ledger = node.ledger
    assert ledger is not None
    y_parity, r, s = request.signature
    try:
        signer = recover_address(request.digest, y_parity, r, s)
    except (YrdError, ValueError):
        return QueryOutcome(False, "bad_signature", 0, 0.0, (), 0)
    if signer != request.bank_address:
        return QueryOutcome(False, "bad_signature", 0, 0.0, (), 0)
    enterprise32 = request.enterprise.encode("ascii").ljust(32, b"\0")
    result = ledger.call(node.genesis.contracts.authorization,
                         bindings.encode_is_authorized(enterprise32, signer, request.kind))
    if not result.success or not bindings.decode_bool(result.output):
        return QueryOutcome(False, "consent_missing", 0, 0.0, (), 0)
    entries = [e for e in ledger.records_of(request.enterprise) if e.status == 1]
    slowest = 0.0
    size = SIZE_BYTES_REPORT_OVERHEAD
    origins: list[City] = []
    for entry in entries:
        origin = city_by_number(entry.origin_city) or node.city
        payload = node.records.load_payload(entry.payload_hash)
        fetch_ms = 0.0
        if payload is None:
            source = next((n for n in payload_sources(origin)
                           if n.records.has_payload(entry.payload_hash)), None)
            if source is None:
                return QueryOutcome(False, "payload_unreachable", len(entries), slowest,
                                    tuple(origins), 0)
            payload = source.records.load_payload(entry.payload_hash) or b""
            fetch_ms = network.round_trip_ms(node.city, source.city, SIZE_BYTES_QUERY_REQUEST,
                                             len(payload))
        if keccak(payload) != entry.payload_hash:
            return QueryOutcome(False, "payload_mismatch", len(entries), slowest,
                                tuple(origins), 0)
        if origin not in origins:
            origins.append(origin)
        slowest = max(slowest, fetch_ms)
        size += len(payload)
    return QueryOutcome(True, "served", len(entries), slowest, tuple(origins), size)


def audit_leaf(request: QueryRequest, served_ms: float) -> bytes:
    """The audit entry of a served query: who asked about whom, and when."""
    return keccak(request.query_id.to_bytes(8, "big") + request.bank_address
                  + request.enterprise.encode("ascii") + int(served_ms).to_bytes(8, "big"))


def _load_int(node: SimulatedHost, key: bytes) -> int:
    raw = node.store.load_meta(key)
    return int.from_bytes(raw, "big") if raw else 0


def append_audit(node: SimulatedHost, leaf: bytes) -> int:
    """Durably append an entry to the node's audit log; returns its position (from 1)."""
    position = _load_int(node, META_AUDIT_COUNT) + 1
    node.store.save_meta(META_AUDIT_ENTRY_PREFIX + position.to_bytes(8, "big"), leaf)
    node.store.save_meta(META_AUDIT_COUNT, position.to_bytes(8, "big"))
    return position


def audit_entry(node: SimulatedHost, position: int) -> bytes | None:
    """The audit entry at a position, if the log holds it."""
    return node.store.load_meta(META_AUDIT_ENTRY_PREFIX + position.to_bytes(8, "big"))


def audit_count(node: SimulatedHost) -> int:
    """Entries in the node's audit log."""
    return _load_int(node, META_AUDIT_COUNT)


def anchored_count(node: SimulatedHost) -> int:
    """Entries of the log already anchored on chain."""
    return _load_int(node, META_AUDIT_ANCHORED)


def next_audit_batch(node: SimulatedHost) -> tuple[int, int, bytes] | None:
    """(first position, count, Merkle root) of the entries not anchored yet, or None."""
    first = anchored_count(node) + 1
    last = min(audit_count(node), first + COUNT_MAX_AUDIT_BATCH - 1)
    if last < first:
        return None
    leaves = [audit_entry(node, p) or b"" for p in range(first, last + 1)]
    return first, len(leaves), merkle_root(leaves)


def mark_anchored(node: SimulatedHost, up_to: int) -> None:
    """Record that entries up to `up_to` are anchored."""
    if up_to > anchored_count(node):
        node.store.save_meta(META_AUDIT_ANCHORED, up_to.to_bytes(8, "big"))
