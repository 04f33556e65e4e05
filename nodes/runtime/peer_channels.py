"""The real peer transport: one persistent, mutually authenticated TLS channel per peer pair.

`PeerChannels` implements the runtime's `Transport` port (`send`, `broadcast`) and adds
`request`: multiplexed request/answer exchanges (payload fetches, audit reads, block sync) on
the same stream as consensus and transaction gossip. Of each pair of nodes the one with the
smaller node id dials and the other accepts, so a pair shares one connection; a dropped
connection is dialed again with a bounded back-off. Requests are answered by handlers that
upper layers register per `PeerMethod`, with the authenticated peer's node id — no web
framework on the path.

Authentication (`nodes.runtime.peer_tls`): TLS 1.3 with both certificates required and checked
against the consortium CA and the validator set before any frame is read, so consensus frames
from an unauthenticated peer never reach the state machine.

Every outgoing frame (requests and answers included) goes through its link's queue, which
applies the regional latency model's one-way delay and the dashboard's cuts and slow-downs.
With no delay to model and nothing queued, frames skip the queue: the frames a link gets in one
event-loop iteration (the payload fetches of every report in flight, say) are joined and written
once at the end of the iteration, one TLS record and one system call instead of one per frame.
A gossiped transaction waits up to `GOSSIP_LINGER_S` for company before it leaves, so a stream
of single client transactions crosses each link as a few records of many transactions, not one
record (and one wake-up of the peer) each; any other frame (a vote, a request, an answer) leaves
at the end of its iteration and takes the waiting transactions with it, in order. On the
receiving side the gossip frames read in one iteration are handed on together, in the order they
came, so the node handles a run of transactions as one batch.
`connections_opened` counts connections established (dialed or accepted): in steady state it
does not grow, however many reports are served.

A node's read workers (ADR 0021) dial their own connections with the node's certificate and
the ALPN name `yrd-reads` (`nodes.runtime.read_channels`): such a connection carries only the
worker's requests of `READ_METHODS` and their answers, answered by the same handlers, delayed
and cut like the link's frames; it never replaces the pair's channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chain.consensus.validators import ValidatorSet
from nodes.runtime.channel import (
    GOSSIP_CHANNELS,
    GOSSIP_KINDS,
    AnswerStatus,
    FrameKind,
    Handler,
    PeerMethod,
    PeerRefused,
    PeerUnavailable,
    decode_answer,
    encode_frame,
    encode_request,
    encode_response,
    read_frame,
)
from nodes.runtime.peer_tls import READS_PROTOCOL, PeerIdentityError, PeerTls, peer_node_id

LOGGER = logging.getLogger(__name__)
QUEUE_FRAMES_PER_LINK = 20_000  # a slow link drops beyond this rather than grow without bound
BATCH_FRAMES = 512  # frames written with one write
GOSSIP_LINGER_S = 0.025  # a gossiped transaction waits this long for others to share its write:
# far below a block's least interval (200 ms), many client transactions per record and wake-up
DIRECT_WRITE_BUFFER_BYTES = 1024 * 1024  # beyond this, frames queue and the sender drains
REQUEST_TIMEOUT_S = 3.0
DIAL_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # then 1 s between attempts
HANDSHAKE_TIMEOUT_S = 5.0
MAX_REQUESTS_IN_FLIGHT_PER_LINK = 4_096
KEEPALIVE_IDLE_S = 10  # seconds of silence before the first probe
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_PROBES = 4
CONNECT_WAIT_S = 1.0  # a request to a peer whose channel is down waits this long for it
READ_METHODS = frozenset({PeerMethod.PAYLOADS, PeerMethod.AUDIT_TRAIL, PeerMethod.AUDIT_PROOF})
"""What a read worker's connection may ask (ADR 0021): the signed reads' fetches, nothing
that changes a node."""

Address = tuple[str, int]
Deliver = Callable[[str, list[bytes]], None]


@dataclass
class PeerLink:
    """One peer: its connection (if up), outgoing queue, delay, cut state and requests."""

    peer: str
    address: Address | None
    dials: bool
    delay_ms: float = 0.0
    extra_delay_ms: float = 0.0
    cut: bool = False
    pending: deque[tuple[float, bytes]] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    up: asyncio.Event = field(default_factory=asyncio.Event)
    writer: asyncio.StreamWriter | None = None
    requests: dict[int, asyncio.Future[bytes]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sent_frames: int = 0
    dropped_frames: int = 0
    outbox: list[bytes] = field(default_factory=list)  # direct frames of this loop iteration
    flush: asyncio.Handle | None = None  # the outbox's scheduled write
    flush_lingers: bool = False  # whether that write waits `GOSSIP_LINGER_S` (gossip only)
    writes: int = 0  # writes to the connection (one per loop iteration at most, direct path)

    @property
    def connected(self) -> bool:
        """Whether the channel to this peer is up."""
        return self.writer is not None

    def due_at(self, enqueued: float) -> float:
        """When a frame enqueued at `enqueued` may leave (monotonic seconds)."""
        return enqueued + (self.delay_ms + self.extra_delay_ms) / 1000


@dataclass
class PeerChannels:
    """The node's peer transport over authenticated TLS channels."""

    node_id: str
    validators: ValidatorSet
    tls: PeerTls | None
    listen: Address | None
    peers: dict[str, Address | None]
    delays_ms: dict[str, float] = field(default_factory=dict)
    deliver: Deliver | None = None
    handlers: dict[PeerMethod, Handler] = field(default_factory=dict)
    links: dict[str, PeerLink] = field(default_factory=dict)
    connections_opened: int = 0
    handshakes_refused: int = 0
    requests_served: int = 0
    _server: asyncio.Server | None = None
    _request_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _serving: set[asyncio.Task[None]] = field(default_factory=set)
    _inbox: list[tuple[str, bytes]] = field(default_factory=list)  # gossip read this iteration

    def __post_init__(self) -> None:
        for peer, address in self.peers.items():
            self.links[peer] = PeerLink(peer, address, dials=self.node_id < peer,
                                        delay_ms=self.delays_ms.get(peer, 0.0))

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for peers, dial the peers this node dials, start one sender per link."""
        if self.tls is None:
            return
        if self.listen is not None:
            self._server = await asyncio.start_server(
                self._accept, self.listen[0], self.listen[1], ssl=self.tls.server,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        for link in self.links.values():
            link.tasks.append(asyncio.create_task(self._send_loop(link)))
            if link.dials and link.address is not None:
                link.tasks.append(asyncio.create_task(self._dial_loop(link)))

    async def stop(self) -> None:
        """Close the listener, every connection and every task."""
        if self._server is not None:
            self._server.close()
        tasks = [task for link in self.links.values() for task in link.tasks]
        tasks.extend(self._serving)
        for task in tasks:
            task.cancel()
        for link in self.links.values():
            if link.flush is not None:
                link.flush.cancel()
                link.flush = None
            self._detach(link, link.writer)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    # Transport port -----------------------------------------------------------------------

    def send(self, peer: str, channel: str, frame: bytes) -> None:
        """Queue one gossip frame ("consensus" or "transactions") for a peer."""
        link = self.links.get(peer)
        if link is not None:
            kind = GOSSIP_KINDS[channel]
            self._enqueue(link, encode_frame(kind, 0, frame), kind is FrameKind.TRANSACTIONS)

    def broadcast(self, channel: str, frame: bytes) -> None:
        """Queue a gossip frame for every peer (encoded once)."""
        kind = GOSSIP_KINDS[channel]
        encoded = encode_frame(kind, 0, frame)
        for link in self.links.values():
            self._enqueue(link, encoded, kind is FrameKind.TRANSACTIONS)

    def connected_peers(self) -> list[str]:
        """Peers whose channel is up."""
        return sorted(peer for peer, link in self.links.items() if link.connected)

    async def request(self, peer: str, method: PeerMethod, body: bytes,
                      timeout_s: float = REQUEST_TIMEOUT_S) -> bytes:
        """Ask a peer; its answer body, or PeerRefused / PeerUnavailable."""
        link = self.links.get(peer)
        if link is None:
            raise PeerUnavailable(f"{peer} is not a peer of {self.node_id}")
        if not link.connected:
            try:
                await asyncio.wait_for(link.up.wait(), min(timeout_s, CONNECT_WAIT_S))
            except TimeoutError as error:
                raise PeerUnavailable(f"no channel to {peer}") from error
        if len(link.requests) >= MAX_REQUESTS_IN_FLIGHT_PER_LINK:
            raise PeerUnavailable(f"too many requests in flight to {peer}")
        request_id = next(self._request_ids)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        link.requests[request_id] = answer
        self._enqueue(link, encode_request(method, request_id, body))
        # A timer on the future itself, not `wait_for` (a task and a timeout scope per request)
        deadline = loop.call_later(timeout_s, _expire, answer, PeerUnavailable(
            f"{peer} did not answer within {timeout_s:g} s"))
        try:
            return decode_answer(await answer)
        finally:
            deadline.cancel()
            link.requests.pop(request_id, None)

    # Connections --------------------------------------------------------------------------

    async def _dial_loop(self, link: PeerLink) -> None:
        assert self.tls is not None and link.address is not None
        attempt = 0
        while True:
            if link.connected:
                await self._wait_down(link)
                attempt = 0
                continue
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(
                    link.address[0], link.address[1], ssl=self.tls.client,
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S), HANDSHAKE_TIMEOUT_S * 2)
            except (OSError, TimeoutError) as error:
                LOGGER.debug("dial %s failed: %s", link.peer, error)
                await asyncio.sleep(DIAL_BACKOFF_S[min(attempt, len(DIAL_BACKOFF_S) - 1)])
                attempt += 1
                continue
            if not self._admit(writer, expected=link.peer):
                await asyncio.sleep(DIAL_BACKOFF_S[-1])
                continue
            self._attach(link, reader, writer)

    async def _wait_down(self, link: PeerLink) -> None:
        while link.connected:
            await asyncio.sleep(0.2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = self._admit(writer, expected=None)
        if peer is None:
            return
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == READS_PROTOCOL:
            await self._serve_reads(peer, reader, writer)
            return
        link = self.links.get(peer)
        if link is None or link.dials:
            LOGGER.warning("%s connected but is not a peer this node accepts", peer)
            self.handshakes_refused += 1
            writer.close()
            return
        self._attach(link, reader, writer)

    def _admit(self, writer: asyncio.StreamWriter, expected: str | None) -> str | None:
        """The authenticated peer's node id, or None (connection closed) if it is not one."""
        try:
            peer = peer_node_id(writer.get_extra_info("ssl_object"), self.validators)
            if expected is not None and peer != expected:
                raise PeerIdentityError(f"dialed {expected}, reached {peer}")
        except (PeerIdentityError, ValueError) as error:
            LOGGER.warning("peer refused: %s", error)
            self.handshakes_refused += 1
            writer.close()
            return None
        return peer

    def _attach(self, link: PeerLink, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
        self._detach(link, link.writer)
        _keep_alive(writer)
        link.writer = writer
        self.connections_opened += 1
        link.up.set()
        link.wakeup.set()
        task = asyncio.create_task(self._read_loop(link, reader, writer))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    def _detach(self, link: PeerLink, writer: asyncio.StreamWriter | None) -> None:
        if writer is None or link.writer is not writer:
            return
        link.writer = None
        link.up.clear()
        writer.close()
        for answer in link.requests.values():
            if not answer.done():
                answer.set_exception(PeerUnavailable(f"the channel to {link.peer} closed"))
        link.requests.clear()

    async def _read_loop(self, link: PeerLink, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                kind, request_id, body = await read_frame(reader)
                if kind is FrameKind.RESPONSE:
                    answer = link.requests.get(request_id)
                    if answer is not None and not answer.done():
                        answer.set_result(body)
                elif kind is FrameKind.REQUEST:
                    task = asyncio.create_task(self._serve(link, request_id, body))
                    self._serving.add(task)
                    task.add_done_callback(self._serving.discard)
                elif self.deliver is not None:
                    if not self._inbox:
                        asyncio.get_running_loop().call_soon(self._deliver_inbox)
                    self._inbox.append((GOSSIP_CHANNELS[kind], body))
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as error:
            LOGGER.debug("channel to %s closed: %s", link.peer, error)
        finally:
            self._detach(link, writer)

    def _deliver_inbox(self) -> None:
        """Hand on the gossip frames read in one iteration: each run of one channel's frames
        in one call, in the order they came."""
        inbox, self._inbox = self._inbox, []
        if self.deliver is None:
            return
        for channel, run in itertools.groupby(inbox, key=lambda item: item[0]):
            self.deliver(channel, [body for _, body in run])

    async def _serve_reads(self, peer: str, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        """A read worker's connection from `peer`: its requests (`READ_METHODS` only) answered
        in order of completion, each answer delayed and cut like the link's own frames."""
        link = self.links.get(peer)
        if link is None:
            writer.close()
            return
        self.connections_opened += 1
        _keep_alive(writer)
        answering: set[asyncio.Task[None]] = set()

        async def answer(request_id: int, body: bytes) -> None:
            frame = await self._answer(link, request_id, body, READ_METHODS)
            delay_s = (link.delay_ms + link.extra_delay_ms) / 1000
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            if not link.cut and not writer.is_closing():
                writer.write(frame)

        try:
            while True:
                kind, request_id, body = await read_frame(reader)
                if kind is not FrameKind.REQUEST:
                    raise ValueError(f"a read connection sent a {kind.name} frame")
                if len(answering) >= MAX_REQUESTS_IN_FLIGHT_PER_LINK:
                    raise ValueError("too many requests in flight on a read connection")
                task = asyncio.create_task(answer(request_id, body))
                answering.add(task)
                task.add_done_callback(answering.discard)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as error:
            LOGGER.debug("read connection from %s closed: %s", peer, error)
        finally:
            for task in answering:
                task.cancel()
            writer.close()

    async def _serve(self, link: PeerLink, request_id: int, body: bytes) -> None:
        self._enqueue(link, await self._answer(link, request_id, body))

    async def _answer(self, link: PeerLink, request_id: int, body: bytes,
                      allowed: frozenset[PeerMethod] | None = None) -> bytes:
        """The response frame to one request (REFUSED for a method not `allowed`)."""
        handler = None
        if body:
            with contextlib.suppress(ValueError):
                method = PeerMethod(body[0])
                if allowed is None or method in allowed:
                    handler = self.handlers.get(method)
        if handler is None:
            answer = encode_response(AnswerStatus.REFUSED, request_id,
                                     PeerRefused("unknown method").encode())
        else:
            try:
                answer = encode_response(AnswerStatus.OK, request_id,
                                         await handler(link.peer, body[1:]))
                self.requests_served += 1
            except PeerRefused as refusal:
                answer = encode_response(AnswerStatus.REFUSED, request_id, refusal.encode())
            except Exception:  # a failing handler answers FAILED; the channel stays up
                LOGGER.exception("peer request %d from %s failed", request_id, link.peer)
                answer = encode_response(AnswerStatus.FAILED, request_id, b"")
        return answer

    # Sending ------------------------------------------------------------------------------

    def _enqueue(self, link: PeerLink, frame: bytes, linger: bool = False) -> None:
        writer = link.writer
        if link.outbox or (
                writer is not None and not link.pending and not link.cut
                and link.delay_ms + link.extra_delay_ms == 0
                and writer.transport.get_write_buffer_size() < DIRECT_WRITE_BUFFER_BYTES):
            # Nothing queued, no delay to model: written at the end of this loop iteration
            # (a gossiped transaction: after `GOSSIP_LINGER_S`), joined with the link's other
            # frames meanwhile, without waking the sender task (its drain still applies
            # backpressure to queued frames).
            link.outbox.append(frame)
            if link.flush is None or (link.flush_lingers and not linger):
                if link.flush is not None:
                    link.flush.cancel()
                loop = asyncio.get_running_loop()
                link.flush = (loop.call_later(GOSSIP_LINGER_S, self._flush_outbox, link) if linger
                              else loop.call_soon(self._flush_outbox, link))
                link.flush_lingers = linger
            return
        if len(link.pending) >= QUEUE_FRAMES_PER_LINK:
            link.dropped_frames += 1
            return
        link.pending.append((time.monotonic(), frame))
        link.wakeup.set()

    def _flush_outbox(self, link: PeerLink) -> None:
        if link.flush is not None:
            link.flush.cancel()  # when the sender task flushes first
            link.flush = None
        frames, link.outbox = link.outbox, []
        if not frames:
            return
        writer = link.writer
        if writer is not None:
            try:
                writer.write(frames[0] if len(frames) == 1 else b"".join(frames))
                link.sent_frames += len(frames)
                link.writes += 1
                return
            except (ConnectionError, OSError, RuntimeError):
                pass
        # the connection went down meanwhile: the frames wait in the queue for the next one
        now = time.monotonic()
        for frame in frames:
            if len(link.pending) >= QUEUE_FRAMES_PER_LINK:
                link.dropped_frames += 1
            else:
                link.pending.append((now, frame))
        link.wakeup.set()

    async def _send_loop(self, link: PeerLink) -> None:
        while True:
            if not link.pending:
                link.wakeup.clear()
                await link.wakeup.wait()
                continue
            wait = link.due_at(link.pending[0][0]) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if link.cut:
                link.dropped_frames += len(link.pending)
                link.pending.clear()
                continue
            writer = link.writer
            if writer is None:
                await link.up.wait()
                continue
            self._flush_outbox(link)  # frames written directly before these go first
            now = time.monotonic()
            frames = []
            while link.pending and len(frames) < BATCH_FRAMES and link.due_at(
                    link.pending[0][0]) <= now:
                frames.append(link.pending.popleft()[1])
            try:
                writer.write(b"".join(frames))
                link.writes += 1
                await writer.drain()
                link.sent_frames += len(frames)
            except (ConnectionError, OSError) as error:
                LOGGER.debug("write to %s failed: %s", link.peer, error)
                link.dropped_frames += len(frames)
                self._detach(link, writer)


def _expire(answer: asyncio.Future[bytes], error: PeerUnavailable) -> None:
    if not answer.done():
        answer.set_exception(error)


def _keep_alive(writer: asyncio.StreamWriter) -> None:
    """TCP keep-alive probes, so a peer that vanished without closing is noticed in ~30 s."""
    raw = writer.get_extra_info("socket")
    if raw is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
