"""A read worker's own connections to other nodes: its payload fetches, not through its node.

A worker of a node with read workers (ADR 0021) fetches the payloads of other cities itself,
so the node's one writer process does not carry that work for every report. It dials each
peer's channel port with the node's own certificate and key (mutual TLS, as the node's
channel: `nodes.runtime.peer_tls`) offering the ALPN name `yrd-reads`, which the peer answers
as a read connection: requests of `READ_METHODS` only, by the same handlers, with the same
checks of the querier's forwarded signature, grant and role (`nodes.api.peer_reads`).

`ReadChannels.request(peer, method, body, timeout_s)` has the peer channel's signature, so the
same `PayloadFetcher` runs in a worker; each peer's connection is dialed on first use, shared
by every request in flight (multiplexed by request id), and dialed again after it drops. The
regional latency model's one-way delay of the link is applied to each request. After a failed
dial, requests to that peer fail at once for `REDIAL_AFTER_S` (a city that is down costs a
report no wait beyond the first).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field

from chain.consensus.validators import ValidatorSet
from nodes.runtime.channel import (
    FrameKind,
    PeerMethod,
    PeerUnavailable,
    decode_answer,
    encode_request,
    read_frame,
)
from nodes.runtime.peer_channels import (
    HANDSHAKE_TIMEOUT_S,
    MAX_REQUESTS_IN_FLIGHT_PER_LINK,
    READ_METHODS,
    REQUEST_TIMEOUT_S,
    Address,
)
from nodes.runtime.peer_tls import READS_PROTOCOL, PeerIdentityError, PeerTls, peer_node_id

LOGGER = logging.getLogger(__name__)
REDIAL_AFTER_S = 1.0  # after a failed dial, requests to that peer fail at once for this long


@dataclass
class ReadConnection:
    """One peer's read connection (when up) and the requests waiting on it."""

    peer: str
    address: Address
    delay_ms: float = 0.0
    writer: asyncio.StreamWriter | None = None
    requests: dict[int, asyncio.Future[bytes]] = field(default_factory=dict)
    dialing: asyncio.Lock = field(default_factory=asyncio.Lock)
    redial_at: float = 0.0  # monotonic seconds: no dial before (the peer was unreachable)


class ReadChannels:
    """A worker's read connections to the other nodes, by node id."""

    def __init__(self, node_id: str, validators: ValidatorSet, tls: PeerTls,
                 peers: dict[str, Address], delays_ms: dict[str, float] | None = None) -> None:
        self.node_id = node_id
        self.validators = validators
        self.tls = tls
        self.links = {peer: ReadConnection(peer, address, (delays_ms or {}).get(peer, 0.0))
                      for peer, address in peers.items()}
        self.connections_opened = 0
        self._ids = itertools.count(1)
        self._readers: set[asyncio.Task[None]] = set()

    async def request(self, peer: str, method: PeerMethod, body: bytes,
                      timeout_s: float = REQUEST_TIMEOUT_S) -> bytes:
        """Ask a peer; its answer body, or PeerRefused / PeerUnavailable."""
        link = self.links.get(peer)
        if link is None:
            raise PeerUnavailable(f"{peer} is not a peer of {self.node_id}")
        if method not in READ_METHODS:
            raise PeerUnavailable(f"a read connection does not carry {method.name}")
        if len(link.requests) >= MAX_REQUESTS_IN_FLIGHT_PER_LINK:
            raise PeerUnavailable(f"too many requests in flight to {peer}")
        if link.delay_ms:
            await asyncio.sleep(link.delay_ms / 1000)
        writer = link.writer if link.writer is not None else await self._dial(link, timeout_s)
        request_id = next(self._ids)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        link.requests[request_id] = answer
        writer.write(encode_request(method, request_id, body))
        try:
            return decode_answer(await asyncio.wait_for(answer, timeout_s))
        except TimeoutError as error:
            raise PeerUnavailable(f"{peer} did not answer within {timeout_s:g} s") from error
        finally:
            link.requests.pop(request_id, None)

    async def close(self) -> None:
        """Close every connection."""
        for link in self.links.values():
            if link.writer is not None:
                link.writer.close()
        for task in list(self._readers):
            task.cancel()

    async def _dial(self, link: ReadConnection, timeout_s: float) -> asyncio.StreamWriter:
        async with link.dialing:
            if link.writer is not None:
                return link.writer
            if time.monotonic() < link.redial_at:
                raise PeerUnavailable(f"{link.peer} was unreachable moments ago")
            try:
                return await self._connect(link, timeout_s)
            except PeerUnavailable:
                link.redial_at = time.monotonic() + REDIAL_AFTER_S
                raise

    async def _connect(self, link: ReadConnection, timeout_s: float) -> asyncio.StreamWriter:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                link.address[0], link.address[1], ssl=self.tls.client,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S),
                min(timeout_s, HANDSHAKE_TIMEOUT_S))
        except (OSError, TimeoutError) as error:
            raise PeerUnavailable(f"no read connection to {link.peer}: {error!r}") from error
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            if peer_node_id(ssl_object, self.validators) != link.peer:
                raise PeerIdentityError(f"dialed {link.peer}, reached another node")
            if ssl_object.selected_alpn_protocol() != READS_PROTOCOL:
                raise PeerIdentityError(f"{link.peer} does not take read connections")
        except (PeerIdentityError, ValueError) as error:
            writer.close()
            raise PeerUnavailable(f"read connection to {link.peer} refused: {error}"
                                  ) from error
        link.writer = writer
        self.connections_opened += 1
        task = asyncio.get_running_loop().create_task(self._read(link, reader, writer))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)
        return writer

    async def _read(self, link: ReadConnection, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                kind, request_id, body = await read_frame(reader)
                waiting = link.requests.get(request_id)
                if kind is FrameKind.RESPONSE and waiting is not None and not waiting.done():
                    waiting.set_result(body)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as error:
            LOGGER.debug("read connection to %s closed: %s", link.peer, error)
        finally:
            if link.writer is writer:
                link.writer = None
            writer.close()
            for waiting in link.requests.values():
                if not waiting.done():
                    waiting.set_exception(PeerUnavailable(f"the connection to {link.peer} "
                                                          "closed"))
