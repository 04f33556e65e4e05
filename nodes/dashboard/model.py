"""The dashboard's pure parts: the network's topology as the page draws it, link plans for the
control routes, and the server-sent-events wire format.

No I/O here: the router (`nodes/dashboard/routes.py`), the stream (`nodes/dashboard/stream.py`)
and the simulator's replay export all call these functions, and the unit tests feed them values.
The event shapes themselves are specified in docs/spec/dashboard-events.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from chain.cities import CITY_FACTS, City
from chain.crypto import checksum_address
from chain.errors import YrdError
from chain.json_document import decode_json
from chain.presets import Preset

EVENT_TYPES = (
    "topology", "status", "health", "proposal", "proposal_sent", "vote", "commit",
    "round_change", "equivocation", "invalid_block", "record_published", "record_corrected",
    "record_revoked", "query", "grant", "grant_revoked", "audit_anchor", "dispute", "control",
)
"""Every event type the page understands; others are listed in the log without animation."""

SSE_RETRY_MS = 1_000  # how soon a browser's EventSource reconnects after the stream drops
MAX_SSE_EVENT_BYTES = 64 * 1024  # an event larger than this is cut to its type and node


def city_entry(city: City) -> dict[str, Any]:
    """One city as the page draws it: id, names, province and coordinates."""
    facts = CITY_FACTS[city]
    return {"id": city.value, "name_en": city.title, "name_zh": facts.name_zh,
            "province": facts.province, "latitude": facts.latitude,
            "longitude": facts.longitude, "number": facts.number}


def build_topology(preset: Preset, rotation: Sequence[str] | None = None,
                   served_by: str | None = None, control: bool = False) -> dict[str, Any]:
    """The `topology` object of the page: cities, nodes, proposer rotation, institutions.

    rotation: node ids in the validator set's order (the proposer of (height, round) is
    `rotation[(height + round) % len(rotation)]`); the preset's order when not given.
    """
    return {
        "type": "topology",
        "preset": preset.name,
        "chain_id": preset.chain_id,
        "served_by": served_by,
        "control": control,
        "cities": [city_entry(city) for city in preset.cities],
        "nodes": [{"node_id": node.node_id, "city": node.city.value, "index": node.index}
                  for node in preset.nodes],
        "rotation": list(rotation) if rotation is not None else
        [node.node_id for node in preset.nodes],
        "institutions": [
            {"label": institution.label, "name": institution.name,
             "city": institution.city.value,
             "address": checksum_address(preset.key(institution.label).address)}
            for institution in preset.institutions if not institution.label.startswith("node:")
        ],
        "enterprises": [
            {"label": enterprise.label, "name": enterprise.name,
             "credit_code": enterprise.credit_code.code,
             "city": enterprise.credit_code.city.value}
            for enterprise in preset.enterprises
        ],
    }


def nodes_of_cities(preset: Preset, cities: Iterable[str]) -> list[str]:
    """The node ids of the named cities; ValueError naming a city the preset does not have."""
    wanted = set(cities)
    known = {city.value for city in preset.cities}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"unknown cities {unknown}; the preset has {sorted(known)}")
    return [node.node_id for node in preset.nodes if node.city.value in wanted]


def partition_plan(preset: Preset, group_a: Iterable[str], group_b: Iterable[str]) -> dict[
        str, list[str]]:
    """For a partition of two city groups: node id -> the peers it must stop sending to.

    Every node of one group cuts its links to every node of the other; nodes of cities in
    neither group keep all their links. ValueError when a city is in both groups or a group
    is empty.
    """
    cities_a, cities_b = set(group_a), set(group_b)
    if not cities_a or not cities_b:
        raise ValueError("a partition needs two non-empty groups of cities")
    both = sorted(cities_a & cities_b)
    if both:
        raise ValueError(f"cities {both} are in both groups")
    nodes_a = nodes_of_cities(preset, cities_a)
    nodes_b = nodes_of_cities(preset, cities_b)
    plan = {node: list(nodes_b) for node in nodes_a}
    plan.update({node: list(nodes_a) for node in nodes_b})
    return plan


def slow_plan(preset: Preset, city_a: str, city_b: str) -> dict[str, list[str]]:
    """For slowing the link between two cities (both directions): node id -> peers to slow.

    With city_a == city_b the links between that city's own nodes are slowed.
    """
    nodes_a = nodes_of_cities(preset, [city_a])
    nodes_b = nodes_of_cities(preset, [city_b])
    plan: dict[str, list[str]] = {}
    for node in nodes_a:
        plan.setdefault(node, []).extend(peer for peer in nodes_b if peer != node)
    for node in nodes_b:
        targets = plan.setdefault(node, [])
        targets.extend(peer for peer in nodes_a if peer != node and peer not in targets)
    return {node: peers for node, peers in plan.items() if peers}


def encode_sse(event: dict[str, Any], event_id: int | None = None) -> bytes:
    """One server-sent event carrying `event` as JSON on a single `data:` line."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > MAX_SSE_EVENT_BYTES:
        text = json.dumps({"type": event.get("type"), "node": event.get("node"),
                           "truncated": True}, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {text}\n\n".encode()


def sse_preamble() -> bytes:
    """The first bytes of a stream: the reconnect delay and a comment that flushes proxies."""
    return f"retry: {SSE_RETRY_MS}\n: yrdchain dashboard\n\n".encode()


def decode_sse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON events of complete SSE messages in `lines` (comments and ids are skipped)."""
    events: list[dict[str, Any]] = []
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                events.extend(_parse_event("\n".join(data)))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        events.extend(_parse_event("\n".join(data)))
    return events


def _parse_event(text: str) -> list[dict[str, Any]]:
    try:
        value = decode_json(text, "event")
    except YrdError:
        return []
    return [value] if isinstance(value, dict) else []


def event_key(event: dict[str, Any]) -> str | None:
    """The identity of a chain-wide event that every node reports (for de-duplication).

    Events derived from committed receipts carry `key` (transaction hash and log index);
    node-local events (votes, commits as seen by one node) have none and are never merged.
    """
    key = event.get("key")
    return key if isinstance(key, str) else None
