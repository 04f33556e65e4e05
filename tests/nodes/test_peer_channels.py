"""The peer channel: mutual TLS with the consortium's certificates, one connection per pair.

Real sockets on loopback and real TLS 1.3 handshakes with the certificates `yrdchain up` writes.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chain.presets import Preset, get_preset
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.runtime.channel import (
    FrameKind,
    PeerMethod,
    PeerRefused,
    PeerUnavailable,
    decode_answer,
    encode_frame,
    encode_request,
)
from nodes.runtime.peer_channels import GOSSIP_LINGER_S, PeerChannels
from nodes.runtime.peer_tls import TLS_KEY_FILE_NAME, load_node_seed, peer_tls, tls_contexts
from nodes.runtime.read_channels import ReadChannels

DIALER, ACCEPTOR = "hangzhou-1", "shanghai-1"  # the smaller node id dials
TEST_PORTS = range(23_000, 24_000)  # the ports tests may listen on


def _free_port() -> int:
    for port in random.sample(TEST_PORTS, 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 23000-23999")


def _channels(preset: Preset, network: Path, node_id: str, peer: str,
              peer_port: int | None, delivered: list[tuple[str, bytes]]) -> PeerChannels:
    validators = load_validator_set(preset, network)
    tls = peer_tls(network, network / node_id, node_id,
                   load_node_seed(preset, node_id, network / node_id))
    return PeerChannels(
        node_id, validators, tls, ("127.0.0.1", _free_port()) if peer_port is None else None,
        {peer: ("127.0.0.1", peer_port) if peer_port else None},
        deliver=lambda channel, frames: delivered.extend((channel, f) for f in frames))


async def _pair(preset: Preset, network: Path, delivered_at_acceptor: list[tuple[str, bytes]],
                delivered_at_dialer: list[tuple[str, bytes]]) -> tuple[PeerChannels,
                                                                        PeerChannels, int]:
    acceptor = _channels(preset, network, ACCEPTOR, DIALER, None, delivered_at_acceptor)
    await acceptor.start()
    assert acceptor._server is not None
    port = acceptor._server.sockets[0].getsockname()[1]
    dialer = _channels(preset, network, DIALER, ACCEPTOR, port, delivered_at_dialer)
    await dialer.start()
    for _ in range(200):
        if dialer.connected_peers() and acceptor.connected_peers():
            break
        await asyncio.sleep(0.01)
    return acceptor, dialer, port


def test_gossip_and_a_thousand_requests_share_one_connection(tmp_path: Path) -> None:
    preset = get_preset("local4")
    ensure_certificates(preset, tmp_path)
    at_acceptor: list[tuple[str, bytes]] = []
    at_dialer: list[tuple[str, bytes]] = []

    async def scenario() -> None:
        acceptor, dialer, _ = await _pair(preset, tmp_path, at_acceptor, at_dialer)
        try:
            async def echo(peer: str, body: bytes) -> bytes:
                return peer.encode() + b":" + body

            async def refuse(peer: str, body: bytes) -> bytes:
                raise PeerRefused("no grant")

            acceptor.handlers[PeerMethod.PAYLOADS] = echo
            acceptor.handlers[PeerMethod.AUDIT_TRAIL] = refuse
            dialer.handlers[PeerMethod.BLOCKS] = echo
            dialer.broadcast("consensus", b"vote")
            acceptor.send(DIALER, "transactions", b"tx")
            answers = await asyncio.gather(*(
                dialer.request(ACCEPTOR, PeerMethod.PAYLOADS, str(n).encode())
                for n in range(1_000)))
            assert answers == [f"{DIALER}:{n}".encode() for n in range(1_000)]
            assert await acceptor.request(DIALER, PeerMethod.BLOCKS, b"b") == b"shanghai-1:b"
            with pytest.raises(PeerRefused, match="no grant"):
                await dialer.request(ACCEPTOR, PeerMethod.AUDIT_TRAIL, b"")
            with pytest.raises(PeerRefused, match="unknown method"):
                await dialer.request(ACCEPTOR, PeerMethod.STORE_PAYLOADS, b"")
            assert (dialer.connections_opened, acceptor.connections_opened) == (1, 1)
            assert acceptor.requests_served == 1_000
        finally:
            await dialer.stop()
            await acceptor.stop()

    asyncio.run(scenario())
    assert at_acceptor == [("consensus", b"vote")]
    assert at_dialer == [("transactions", b"tx")]


def test_transactions_linger_and_cross_as_one_batch_a_vote_takes_them_along(
        tmp_path: Path) -> None:
    """Gossiped transactions wait `GOSSIP_LINGER_S` to share one write; a consensus frame
    leaves at once and takes them along, in order; the receiver hands each channel's run of
    frames on in one call."""
    preset = get_preset("local4")
    ensure_certificates(preset, tmp_path)
    calls: list[tuple[str, list[bytes]]] = []

    async def scenario() -> None:
        acceptor, dialer, _ = await _pair(preset, tmp_path, [], [])
        acceptor.deliver = lambda channel, frames: calls.append((channel, list(frames)))
        link = dialer.links[ACCEPTOR]
        try:
            writes = link.writes
            for number in range(3):
                dialer.broadcast("transactions", b"tx%d" % number)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert (link.writes, len(link.outbox)) == (writes, 3)  # still lingering
            dialer.broadcast("consensus", b"vote")
            dialer.broadcast("transactions", b"tx3")
            await asyncio.sleep(0)
            assert (link.writes, link.outbox) == (writes + 1, [])  # one write for all five
            await _until(lambda: len(calls) == 3)
            dialer.broadcast("transactions", b"alone")
            await asyncio.sleep(GOSSIP_LINGER_S / 2)
            assert link.writes == writes + 1
            await _until(lambda: len(calls) == 4)
            assert link.writes == writes + 2
        finally:
            await dialer.stop()
            await acceptor.stop()

    asyncio.run(scenario())
    assert calls == [("transactions", [b"tx0", b"tx1", b"tx2"]), ("consensus", [b"vote"]),
                     ("transactions", [b"tx3"]), ("transactions", [b"alone"])]


async def _until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


def _probe(context: ssl.SSLContext | None, port: int) -> asyncio.Future[None]:
    async def connect() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writer.write(encode_frame(FrameKind.CONSENSUS, 0, b"forged"))
            await writer.drain()
            await asyncio.wait_for(reader.read(1), 2.0)
            writer.close()
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError):
            pass
    return asyncio.ensure_future(connect())


def test_unauthenticated_peers_never_reach_the_state_machine(tmp_path: Path) -> None:
    preset = get_preset("local4")
    ensure_certificates(preset, tmp_path)
    other = get_preset("yrd-2021")  # another consortium: its own CA
    ensure_certificates(other, tmp_path / "other")
    at_acceptor: list[tuple[str, bytes]] = []

    async def scenario() -> None:
        acceptor = _channels(preset, tmp_path, ACCEPTOR, DIALER, None, at_acceptor)
        await acceptor.start()
        assert acceptor._server is not None
        port = acceptor._server.sockets[0].getsockname()[1]
        try:
            # 1. plain TCP, no TLS at all
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode_frame(FrameKind.CONSENSUS, 0, b"forged"))
            await writer.drain()
            writer.close()
            # 2. TLS without a client certificate
            anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            anonymous.check_hostname = False
            anonymous.verify_mode = ssl.CERT_NONE
            await _probe(anonymous, port)
            # 3. a certificate of another consortium's CA, for a node id of the same name
            foreign = peer_tls(tmp_path / "other", tmp_path / "foreign", "hangzhou-1",
                               other.node_seed("hangzhou-1")).client
            foreign.verify_mode = ssl.CERT_NONE  # the attacker does not check the server
            await _probe(foreign, port)
            # 4. a genuine certificate of this consortium, but not one of the acceptor's dialers
            wrong_way = peer_tls(tmp_path, tmp_path / "impostor", "shanghai-1",
                                 preset.node_seed("shanghai-1")).client
            await _probe(wrong_way, port)
            await asyncio.sleep(0.1)
            assert at_acceptor == []
            assert acceptor.connections_opened == 0
            assert acceptor.handshakes_refused >= 1
        finally:
            await acceptor.stop()

    asyncio.run(scenario())


def test_a_read_workers_connection_carries_reads_only(tmp_path: Path) -> None:
    """A read worker of the dialer connects with its node's certificate and `yrd-reads`: its
    requests are answered by the acceptor's handlers on a connection of their own, requests
    that change a node are refused, and the pair's channel stays the one it was."""
    preset = get_preset("local4")
    ensure_certificates(preset, tmp_path)

    async def scenario() -> None:
        acceptor, dialer, port = await _pair(preset, tmp_path, [], [])
        stored: list[bytes] = []
        reads = ReadChannels(DIALER, load_validator_set(preset, tmp_path),
                             tls_contexts(tmp_path, tmp_path / DIALER / TLS_KEY_FILE_NAME,
                                          DIALER, reads_only=True),
                             {ACCEPTOR: ("127.0.0.1", port)})
        try:
            async def echo(peer: str, body: bytes) -> bytes:
                return peer.encode() + b":" + body

            async def store(peer: str, body: bytes) -> bytes:
                stored.append(body)
                return b""

            acceptor.handlers[PeerMethod.PAYLOADS] = echo
            acceptor.handlers[PeerMethod.STORE_PAYLOADS] = store
            answers = await asyncio.gather(*(
                reads.request(ACCEPTOR, PeerMethod.PAYLOADS, str(n).encode())
                for n in range(200)))
            assert answers == [f"{DIALER}:{n}".encode() for n in range(200)]
            with pytest.raises(PeerUnavailable, match="does not carry"):
                await reads.request(ACCEPTOR, PeerMethod.STORE_PAYLOADS, b"x")
            raw = reads.links[ACCEPTOR].writer
            assert raw is not None  # the same request written by hand is refused too
            answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            reads.links[ACCEPTOR].requests[999_999] = answer
            raw.write(encode_request(PeerMethod.STORE_PAYLOADS, 999_999, b"x"))
            with pytest.raises(PeerRefused, match="unknown method"):
                decode_answer(await asyncio.wait_for(answer, 5.0))
            assert stored == []
            assert reads.connections_opened == 1
            assert dialer.connected_peers() == [ACCEPTOR]  # the pair's channel is untouched
            assert dialer.connections_opened == 1
            assert await dialer.request(ACCEPTOR, PeerMethod.PAYLOADS, b"c") == b"hangzhou-1:c"
        finally:
            await reads.close()
            await dialer.stop()
            await acceptor.stop()

    asyncio.run(scenario())


def test_a_read_connection_to_an_unreachable_peer_fails_fast_and_dials_again(
        tmp_path: Path) -> None:
    """A peer that is down costs one failed dial; the next requests fail at once until the
    redial pause ends, and then a dial reaches the peer once it is up."""
    preset = get_preset("local4")
    ensure_certificates(preset, tmp_path)
    port = _free_port()

    async def scenario() -> None:
        peer_tls(tmp_path, tmp_path / DIALER, DIALER,  # writes the node's TLS key
                 load_node_seed(preset, DIALER, tmp_path / DIALER))
        reads = ReadChannels(DIALER, load_validator_set(preset, tmp_path),
                             tls_contexts(tmp_path, tmp_path / DIALER / TLS_KEY_FILE_NAME,
                                          DIALER, reads_only=True),
                             {ACCEPTOR: ("127.0.0.1", port)})
        try:
            with pytest.raises(PeerUnavailable, match="no read connection"):
                await reads.request(ACCEPTOR, PeerMethod.PAYLOADS, b"x", 2.0)
            started = time.monotonic()
            with pytest.raises(PeerUnavailable, match="unreachable moments ago"):
                await reads.request(ACCEPTOR, PeerMethod.PAYLOADS, b"x", 2.0)
            assert time.monotonic() - started < 0.5
            reads.links[ACCEPTOR].redial_at = 0.0  # the pause is over
            acceptor = _channels(preset, tmp_path, ACCEPTOR, DIALER, None, [])
            acceptor.listen = ("127.0.0.1", port)
            await acceptor.start()

            async def echo(peer: str, body: bytes) -> bytes:
                return body

            acceptor.handlers[PeerMethod.PAYLOADS] = echo
            try:
                assert await reads.request(ACCEPTOR, PeerMethod.PAYLOADS, b"up", 2.0) == b"up"
            finally:
                await acceptor.stop()
        finally:
            await reads.close()

    asyncio.run(scenario())
