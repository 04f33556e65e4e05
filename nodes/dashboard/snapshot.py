"""One still picture of the network for `/dashboard?static` (screenshots, printing, slides).

`GET /dashboard/snapshot` answers a replay document (docs/spec/dashboard-events.md): the
topology, the status of every node now — this node's own, and each peer's `GET /status`, asked
once with a short timeout (a peer that does not answer is shown down) — and the recent told
events: the network-wide merge of the live stream when a viewer has followed it, this node's own
otherwise; queries only as city-to-city arcs, as on every public dashboard route
(nodes/dashboard/privacy.py). The page applies it at once, without a stream, so a headless browser's
`--virtual-time-budget` screenshot finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from nodes.dashboard.privacy import public_event
from nodes.dashboard.stream import UNTOLD_TYPES, node_status_event
from nodes.runtime.asyncio_ports import now_ms
from nodes.runtime.node import NodeRuntime

PEER_STATUS_TIMEOUT_S = 1.5  # a peer slower than this is drawn down in the picture
SNAPSHOT_EVENTS = 200  # recent told events of this node put in the picture


def status_from_peer(answer: dict[str, Any], node_id: str, city: str) -> dict[str, Any]:
    """A `status` event from a peer's `GET /status` answer."""
    return {"type": "status", "node": node_id, "city": city, "time_ms": now_ms(),
            "height": int(answer.get("height", 0)), "round": int(answer.get("round", 0)),
            "mempool": int(answer.get("mempool", 0)), "cut": [], "slow": {}}


async def peer_state(client: httpx.AsyncClient, node_id: str, city: str,
                     url: str) -> dict[str, Any]:
    """A peer's status event, or a `health: down` event when it does not answer."""
    try:
        response = await client.get(f"{url}/status")
        if response.status_code == 200:
            return status_from_peer(response.json(), node_id, city)
    except (httpx.HTTPError, OSError, ValueError):
        pass
    return {"type": "health", "node": node_id, "health": "down", "time_ms": now_ms()}


async def network_snapshot(runtime: NodeRuntime, topology: dict[str, Any],
                           merged: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The replay document of the network as it is now.

    merged: the live stream's recent network-wide events (empty when nobody watched yet).
    """
    cities = {node.node_id: node.city.value for node in runtime.preset.nodes}
    async with httpx.AsyncClient(timeout=PEER_STATUS_TIMEOUT_S) as client:
        peers = await asyncio.gather(*(
            peer_state(client, peer, cities.get(peer, ""), url)
            for peer, url in sorted(runtime.config.peers.items())))
    told = list(merged) or [public_event(event) for event in runtime.recent_events
                            if event.get("type") not in UNTOLD_TYPES]
    return {"topology": topology, "static": True,
            "events": [*told[-SNAPSHOT_EVENTS:], node_status_event(runtime), *peers]}
