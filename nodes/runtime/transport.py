"""Peer transport: consensus messages and transaction gossip between city nodes.

`HttpTransport` is the real implementation of the `Transport` port (nodes/runtime/ports.py):
HTTP/1.1 keep-alive to each peer's `/peer/*` routes, one sender task per link that batches
whatever queued up into one request. Its in-memory twin is nodes/runtime/memory_ports.py.

Per-link delay: with the regional latency model on, each frame leaves no earlier than its enqueue
time plus the modelled one-way delay between the two cities, in order (netem is not available,
so the delay is injected here). Links can also be cut (partitions) and slowed at run time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

from nodes.runtime.frames import encode_frames
from nodes.runtime.ports import Channel

QUEUE_FRAMES_PER_LINK = 20_000  # a slow link drops beyond this rather than grow without bound
BATCH_FRAMES = 512  # frames per request
REQUEST_TIMEOUT_S = 10.0
RETRY_DELAY_S = 0.2



@dataclass
class LinkState:
    """One outgoing link: its pending frames (enqueue time, channel, frame), delay and health."""

    url: str
    delay_ms: float
    pending: deque[tuple[float, Channel, bytes]] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    extra_delay_ms: float = 0.0
    cut: bool = False
    connected: bool = False
    sent_frames: int = 0
    dropped_frames: int = 0
    task: asyncio.Task[None] | None = None

    def due_at(self, enqueued: float) -> float:
        """When a frame enqueued at `enqueued` may leave (monotonic seconds)."""
        return enqueued + (self.delay_ms + self.extra_delay_ms) / 1000


@dataclass
class HttpTransport:
    """The real transport over HTTP to each peer's `/peer/{channel}` route."""

    peers: dict[str, str]
    delays_ms: dict[str, float] = field(default_factory=dict)
    links: dict[str, LinkState] = field(default_factory=dict)
    client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Open the HTTP client and start one sender task per link."""
        self.client = httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT_S, limits=httpx.Limits(max_keepalive_connections=64))
        for peer, url in self.peers.items():
            link = LinkState(url=url, delay_ms=self.delays_ms.get(peer, 0.0))
            link.task = asyncio.create_task(self._run_link(link))
            self.links[peer] = link

    async def stop(self) -> None:
        """Stop the sender tasks and close the client."""
        tasks = [link.task for link in self.links.values() if link.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """Queue a frame for one peer (dropped and counted if the link's queue is full)."""
        link = self.links.get(peer)
        if link is None:
            return
        if len(link.pending) >= QUEUE_FRAMES_PER_LINK:
            link.dropped_frames += 1
            return
        link.pending.append((time.monotonic(), channel, frame))
        link.wakeup.set()

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Queue a frame for every peer."""
        for peer in self.links:
            self.send(peer, channel, frame)

    def connected_peers(self) -> list[str]:
        """Peers whose last request succeeded."""
        return sorted(peer for peer, link in self.links.items() if link.connected)

    async def _run_link(self, link: LinkState) -> None:
        while True:
            if not link.pending:
                link.wakeup.clear()
                await link.wakeup.wait()
                continue
            wait = link.due_at(link.pending[0][0]) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            batches: dict[Channel, list[bytes]] = {}
            count = 0
            while link.pending and count < BATCH_FRAMES and link.due_at(link.pending[0][0]) <= now:
                _, channel, frame = link.pending.popleft()
                batches.setdefault(channel, []).append(frame)
                count += 1
            await self._post(link, batches)

    async def _post(self, link: LinkState, batches: dict[Channel, list[bytes]]) -> None:
        assert self.client is not None
        if link.cut:
            link.dropped_frames += sum(map(len, batches.values()))
            return
        for channel, frames in batches.items():
            try:
                response = await self.client.post(
                    f"{link.url}/peer/{channel}", content=encode_frames(frames),
                    headers={"content-type": "application/octet-stream"})
                link.connected = response.status_code < 500
                link.sent_frames += len(frames)
            except httpx.HTTPError:
                link.connected = False
                link.dropped_frames += len(frames)
                await asyncio.sleep(RETRY_DELAY_S)
