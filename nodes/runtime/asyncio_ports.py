"""The real process's ports: wall clock, asyncio timers, block fetches; and its life cycle.

`process_node` plugs a `NodeRuntime` into these, the authenticated peer channels
(nodes/runtime/peer_channels.py: one mutual-TLS channel per peer pair), the caller's block and
record stores and a small thread pool for signature recovery; `ProcessNode.start` opens the
channels, lets the runtime catch up and waits until consensus runs; `ProcessNode.stop` undoes
it. Everything runs on the asyncio loop's thread; only signature recovery of unknown
transactions fans out to the pool (coincurve releases the GIL).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from chain.consensus.validators import ValidatorSet
from chain.genesis import Genesis
from chain.storage import BlockStore
from nodes.runtime.channel import PeerMethod, PeerRefused, PeerUnavailable
from nodes.runtime.config import NodeConfig, channel_address
from nodes.runtime.consensus_setup import default_consensus_config
from nodes.runtime.frames import decode_frames
from nodes.runtime.latency import one_way_delay_ms
from nodes.runtime.node import NodeRuntime
from nodes.runtime.peer_channels import PeerChannels
from nodes.runtime.peer_tls import load_node_seed, peer_tls
from nodes.runtime.ports import (
    BlocksReply,
    ImmediateProcessor,
    PeerReply,
    QuietObserver,
    RuntimePorts,
)
from nodes.storage.records import MemoryRecordStore, RecordStore

LOGGER = logging.getLogger(__name__)
VERIFY_THREADS = 2
TIMEOUT_S_SYNC = 10.0
TIMEOUT_S_STATUS = 2.0


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class WallClock:
    """The machine's clock; `skew_ms` shifts the time block timestamps read (NodeConfig's
    `clock_skew_ms`: a fault for tests and teaching, honest validators refuse its proposals)."""

    skew_ms: int = 0

    def now_ms(self) -> int:
        """Wall-clock milliseconds."""
        return now_ms()

    def chain_ms(self) -> int:
        """Wall-clock milliseconds plus the skew."""
        return now_ms() + self.skew_ms

    def monotonic_s(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()


@dataclass
class AsyncioTimers:
    """Timers on the running asyncio loop."""

    clock: WallClock
    handles: set[asyncio.TimerHandle | asyncio.Handle] = field(default_factory=set)

    def call_at(self, at_ms: float, callback: Callable[[], None]) -> None:
        """Run `callback` when the wall clock reads `at_ms`."""
        delay_s = max(0.0, (at_ms - self.clock.now_ms()) / 1000)
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self.handles.discard(handle)  # type: ignore[arg-type]
            callback()

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self.handles.add(handle)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the loop's next turn."""
        asyncio.get_running_loop().call_soon(callback)

    def cancel_all(self) -> None:
        """Cancel every pending timer."""
        for handle in self.handles:
            handle.cancel()
        self.handles.clear()


@dataclass
class ChannelPeerBlocks:
    """Committed blocks from peers: who is ahead from their public `GET /status`, the blocks
    (with certificates) over the authenticated peer channel."""

    peers: dict[str, str]
    channels: PeerChannels
    client: httpx.AsyncClient | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def open(self) -> None:
        """Open the HTTP client (on the running loop)."""
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S_SYNC)

    async def close(self) -> None:
        """Cancel fetches in flight and close the client."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    def _spawn(self, work: Callable[[], object]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work())  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.error("block fetch failed", exc_info=task.exception())

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """Ask every peer's /status; reply with the one furthest ahead of `height`."""
        self._spawn(lambda: self._find_ahead(height, reply))

    async def _find_ahead(self, height: int, reply: PeerReply) -> None:
        assert self.client is not None
        best: tuple[int, str] | None = None
        for peer, url in self.peers.items():
            try:
                response = await self.client.get(f"{url}/status", timeout=TIMEOUT_S_STATUS)
                peer_height = int(response.json()["height"])
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            if peer_height > height and (best is None or peer_height > best[0]):
                best = (peer_height, peer)
        reply(None if best is None else best[1])

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """A BLOCKS request to `peer`; reply with the frames (none when it failed)."""
        self._spawn(lambda: self._fetch(peer, from_height, limit, reply))

    async def _fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        frames: list[bytes] = []
        try:
            frames = decode_frames(await self.channels.request(
                peer, PeerMethod.BLOCKS,
                from_height.to_bytes(8, "big") + limit.to_bytes(4, "big"), TIMEOUT_S_SYNC))
        except (PeerUnavailable, PeerRefused, ValueError) as error:
            LOGGER.warning("sync from %s failed: %s", peer, error)
        reply(frames)


def link_delays_ms(config: NodeConfig, genesis: Genesis) -> dict[str, float]:
    """Per-peer one-way delays of the regional latency model (none unless it is on)."""
    if config.latency != "regional":
        return {}
    preset = genesis.preset
    city = preset.node(config.node_id).city
    return {peer: one_way_delay_ms(city, preset.node(peer).city) for peer in config.peers}


@dataclass
class ProcessNode:
    """A runtime and the real ports it owns: the life cycle of one node process."""

    runtime: NodeRuntime
    transport: PeerChannels
    peer_blocks: ChannelPeerBlocks
    pool: ThreadPoolExecutor
    seed: bytes

    async def start(self) -> None:
        """Open the peer channels, catch up with peers, and return once consensus runs."""
        config = self.runtime.config
        if config.peer_port:
            self.transport.tls = peer_tls(config.data_dir.parent, config.data_dir,
                                          config.node_id, self.seed)
        await self.transport.start()
        self.peer_blocks.open()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.runtime.start(then=lambda: started.done() or started.set_result(None))
        await started

    async def stop(self) -> None:
        """Stop timers, fetches in flight, the transport and the verification threads."""
        self.runtime.halt()
        await self.peer_blocks.close()
        await self.transport.stop()
        self.pool.shutdown(wait=False)


def process_node(config: NodeConfig, genesis: Genesis, store: BlockStore,
                 validator_set: ValidatorSet,
                 record_store: RecordStore | None = None) -> ProcessNode:
    """A runtime plugged into the real process's ports (nothing started yet)."""
    clock = WallClock(config.clock_skew_ms)
    pool = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="verify")
    seed = load_node_seed(genesis.preset, config.node_id, config.data_dir)
    transport = PeerChannels(
        config.node_id, validator_set, None,
        (config.host, config.peer_port) if config.peer_port else None,
        {peer: channel_address(address) for peer, address in config.peer_channels.items()},
        delays_ms=link_delays_ms(config, genesis))
    peer_blocks = ChannelPeerBlocks(dict(config.peers), transport)
    ports = RuntimePorts(
        clock=clock, timers=AsyncioTimers(clock), transport=transport, peer_blocks=peer_blocks,
        block_store=store,
        record_store=record_store if record_store is not None else MemoryRecordStore(),
        processor=ImmediateProcessor(), observer=QuietObserver(), mapper=pool.map)
    runtime = NodeRuntime(config, genesis, validator_set, ports,
                          default_consensus_config(config.node_id, seed, validator_set))
    transport.deliver = runtime.deliver_frames

    async def serve_blocks(peer: str, body: bytes) -> bytes:
        """A BLOCKS request on the peer channel: 8-byte start height, 4-byte limit."""
        if len(body) != 12:
            raise PeerRefused("BLOCKS takes an 8-byte start height and a 4-byte limit")
        return runtime.blocks_from(int.from_bytes(body[:8], "big"),
                                   int.from_bytes(body[8:], "big"))

    transport.handlers[PeerMethod.BLOCKS] = serve_blocks
    return ProcessNode(runtime, transport, peer_blocks, pool, seed)
