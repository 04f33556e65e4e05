"""The dashboard's live streams: each node's own events, and the network-wide merge.

`node_events` is what `/dashboard/node-events` serves: the node's runtime events as they happen,
plus a `status` heartbeat every second (height, round, mempool, cut and slowed links).

`NetworkStream` is what `/dashboard/events` serves: the node that serves the page follows every
peer's `/dashboard/node-events` (one long-lived HTTP stream per peer) and merges them with its own
events, so the browser opens a single EventSource and still sees all nodes. A peer whose stream
drops or falls silent is announced with a `health` event (`down`), and again (`up`) when it
answers. Chain events that every node reports (keyed by transaction and log) are passed on once.
The followers run only while at least one viewer is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any

import httpx

from nodes.dashboard.model import (
    build_topology,
    decode_sse_lines,
    encode_sse,
    event_key,
    sse_preamble,
)
from nodes.dashboard.privacy import public_event
from nodes.runtime.asyncio_ports import now_ms
from nodes.runtime.node import NodeRuntime

LOGGER = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0  # status events: the page's height and health refresh rate
VIEWER_QUEUE_EVENTS = 4_000  # a viewer that falls this far behind loses the oldest events
FOLLOW_RETRY_S = 1.0  # how soon a dropped peer stream is tried again
FOLLOW_CONNECT_TIMEOUT_S = 1.5
FOLLOW_SILENCE_TIMEOUT_S = 4.0  # no heartbeat for this long: the peer counts as down
SEEN_KEYS = 4_096  # chain-event keys remembered for de-duplication
REPLAY_EVENTS = 200  # recent merged events a new viewer receives first
UNTOLD_TYPES = frozenset({"vote", "proposal_sent", "status"})  # animated only, never replayed


def node_status_event(runtime: NodeRuntime) -> dict[str, Any]:
    """The heartbeat of one node: what the page needs to draw it."""
    head = runtime.ledger.head
    links = runtime.transport.links
    return {
        "type": "status", "node": runtime.config.node_id, "city": runtime.node.city.value,
        "time_ms": now_ms(), "height": head.height, "round": runtime.consensus.round,
        "hash": head.block_hash.hex(), "mempool": len(runtime.ledger.mempool),
        "peers": len(runtime.transport.connected_peers()),
        "cut": sorted(peer for peer, link in links.items() if link.cut),
        "slow": {peer: link.extra_delay_ms for peer, link in links.items()
                 if link.extra_delay_ms > 0},
    }


class Subscription:
    """A bounded queue of events for one consumer, dropping the oldest when full."""

    def __init__(self, limit: int = VIEWER_QUEUE_EVENTS) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=limit)
        self.ready = asyncio.Event()
        self.dropped = 0

    def put(self, event: dict[str, Any]) -> None:
        """Queue an event (never blocks)."""
        if len(self.events) == self.events.maxlen:
            self.dropped += 1
        self.events.append(event)
        self.ready.set()

    async def next_batch(self, timeout_s: float) -> list[dict[str, Any]]:
        """Whatever is queued, waiting up to `timeout_s` for something."""
        if not self.events:
            self.ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout_s)
        batch = list(self.events)
        self.events.clear()
        return batch


async def node_events(runtime: NodeRuntime, public: bool = True) -> AsyncIterator[bytes]:
    """This node's own event stream (SSE bytes): a status first, then events and heartbeats.

    public: queries as city-to-city arcs only (nodes/dashboard/privacy.py); False for the
    signed regulator's stream.
    """
    shown = public_event if public else _as_is
    subscription = Subscription()
    runtime.listeners.append(subscription.put)
    try:
        yield sse_preamble()
        yield encode_sse(node_status_event(runtime))
        next_beat = time.monotonic() + HEARTBEAT_INTERVAL_S
        while True:
            batch = await subscription.next_batch(max(0.0, next_beat - time.monotonic()))
            if time.monotonic() >= next_beat:
                batch.append(node_status_event(runtime))
                next_beat = time.monotonic() + HEARTBEAT_INTERVAL_S
            if batch:
                yield b"".join(encode_sse(shown(event)) for event in batch)
    finally:
        with contextlib.suppress(ValueError):
            runtime.listeners.remove(subscription.put)


def _as_is(event: dict[str, Any]) -> dict[str, Any]:
    return event


class NetworkStream:
    """The merged stream of every node, for the page's one EventSource."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime
        self.viewers: set[Subscription] = set()
        self.health: dict[str, str] = {runtime.config.node_id: "up"}
        self.last_status: dict[str, dict[str, Any]] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=REPLAY_EVENTS)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._sequence = 0

    def topology(self) -> dict[str, Any]:
        """The topology event of this network."""
        runtime = self.runtime
        return build_topology(runtime.preset, runtime.validator_set.node_ids(),
                              served_by=runtime.config.node_id,
                              control=runtime.config.control)

    async def stream(self) -> AsyncIterator[bytes]:
        """SSE bytes for one viewer: topology, the latest status of each node, recent events,
        then the live merge."""
        viewer = Subscription()
        self.viewers.add(viewer)
        self._start()
        try:
            yield sse_preamble()
            snapshot = [self.topology(), *self.last_status.values(),
                        *({"type": "health", "node": node, "health": health, "time_ms": now_ms()}
                          for node, health in self.health.items()),
                        *({**event, "replayed": True} for event in self.recent)]
            yield b"".join(encode_sse(event) for event in snapshot)
            while True:
                batch = await viewer.next_batch(HEARTBEAT_INTERVAL_S * 5)
                yield b"".join(encode_sse(event) for event in batch) if batch else b": idle\n\n"
        finally:
            self.viewers.discard(viewer)
            if not self.viewers:
                self._stop()

    def publish(self, event: dict[str, Any]) -> None:
        """Pass an event to every viewer (in its public form), once per chain-event key."""
        event = public_event(event)
        key = event_key(event)
        if key is not None:
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > SEEN_KEYS:
                self._seen.popitem(last=False)
        if event.get("type") == "status":
            self.last_status[str(event.get("node"))] = event
        else:
            self.recent.append(event)
        for viewer in list(self.viewers):
            viewer.put(event)

    def _set_health(self, node_id: str, health: str) -> None:
        if self.health.get(node_id) == health:
            return
        self.health[node_id] = health
        self.publish({"type": "health", "node": node_id, "health": health, "time_ms": now_ms()})

    # Followers ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._tasks:
            return
        if not self.recent:
            told = [public_event(event) for event in self.runtime.recent_events
                    if event.get("type") not in UNTOLD_TYPES]
            self.recent.extend(told[-REPLAY_EVENTS:])
            for event in told:
                key = event_key(event)
                if key is not None:
                    self._seen[key] = None
        self.runtime.listeners.append(self.publish)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._beat_self()))
        for peer, url in sorted(self.runtime.config.peers.items()):
            self._tasks.append(loop.create_task(self._follow(peer, url)))

    def _stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.runtime.listeners.remove(self.publish)
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def _beat_self(self) -> None:
        while True:
            self.publish(node_status_event(self.runtime))
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    async def _follow(self, peer: str, url: str) -> None:
        timeout = httpx.Timeout(FOLLOW_SILENCE_TIMEOUT_S, connect=FOLLOW_CONNECT_TIMEOUT_S)
        async with httpx.AsyncClient(timeout=timeout) as client:
            while True:
                try:
                    await self._read_stream(client, peer, f"{url}/dashboard/node-events")
                except (httpx.HTTPError, OSError) as error:
                    LOGGER.debug("dashboard stream of %s dropped: %s", peer, error)
                self._set_health(peer, "down")
                await asyncio.sleep(FOLLOW_RETRY_S)

    async def _read_stream(self, client: httpx.AsyncClient, peer: str, url: str) -> None:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                return
            self._set_health(peer, "up")
            lines: list[str] = []
            async for line in response.aiter_lines():
                if line:
                    lines.append(line)
                    continue
                for event in decode_sse_lines(lines):
                    self.publish(event)
                lines = []
