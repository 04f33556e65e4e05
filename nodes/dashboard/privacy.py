"""What the public dashboard may show of a query: a city-to-city arc, never who asked for whom.

The audit trail (querier, enterprise, time, nonce) answers only signed requests of the
enterprise itself or a regulator; the public dashboard routes (`/dashboard/events`,
`/dashboard/node-events`, `/dashboard/recent`, `/dashboard/snapshot`) must not leak it.
`public_event` keeps a query event's cities, outcome and verification and drops everything
that identifies the querier, the enterprise or the request (its nonce-derived key is replaced
by a digest, so nodes still deduplicate the same query).
Other events pass unchanged: they describe on-chain facts that any client can read.
The full events stay in the node's memory for a signed regulator (`GET /v1/dashboard/recent`).
"""

from __future__ import annotations

import hashlib
from typing import Any

QUERY_PUBLIC_FIELDS = frozenset({
    "type", "node", "city", "time_ms", "replayed", "from_city", "to_city", "origin_cities",
    "served_by", "outcome", "records", "verified", "tampered", "unavailable", "reason",
})
"""The fields of a `query` event the public stream keeps."""

PRIVATE_TYPES = frozenset({"query"})


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as anyone may see it (a new dict for private types, the same one otherwise)."""
    if event.get("type") not in PRIVATE_TYPES:
        return event
    shown = {name: value for name, value in event.items() if name in QUERY_PUBLIC_FIELDS}
    key = event.get("key")
    if isinstance(key, str):
        shown["key"] = "query:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return shown
