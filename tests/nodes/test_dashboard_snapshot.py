"""The still picture's parts: a peer's /status as a status event, a silent peer drawn down."""

from __future__ import annotations

import asyncio
import socket

import httpx

from nodes.dashboard.snapshot import peer_state, status_from_peer


def test_a_peer_status_becomes_the_status_event_the_page_draws() -> None:
    event = status_from_peer({"node_id": "hefei-1", "height": 41, "round": 2, "mempool": 3,
                              "connected_peers": ["shanghai-1"]}, "hefei-1", "hefei")
    assert event["type"] == "status" and event["node"] == "hefei-1" and event["city"] == "hefei"
    assert (event["height"], event["round"], event["mempool"]) == (41, 2, 3)
    assert event["cut"] == [] and event["slow"] == {} and event["time_ms"] > 0


def test_a_peer_that_does_not_answer_is_drawn_down() -> None:
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def ask() -> dict[str, object]:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return await peer_state(client, "taizhou-1", "taizhou", f"http://127.0.0.1:{port}")

    event = asyncio.run(ask())
    assert event["type"] == "health" and event["health"] == "down"
    assert event["node"] == "taizhou-1"
