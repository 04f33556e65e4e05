"""The writer link between a node's process and its read workers, over a real Unix socket.

Requests are multiplexed (a slow answer holds no other back), a core error refused by the
writer comes back as the same error with the same field, and a writer that goes away fails
every request in flight and closes the link (ADR 0021).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chain.errors import NodeUnavailable, RateLimited, ReplayedRequest
from nodes.api.workers import raise_refusal, refusal
from nodes.runtime.channel import PeerRefused, PeerUnavailable
from nodes.runtime.writer_link import (
    WriterHandler,
    WriterLink,
    WriterLinkServer,
    WriterMethod,
    socket_path,
)


def test_requests_are_multiplexed_and_refusals_keep_their_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def admit(body: bytes) -> bytes:
            if body == b"seen":
                raise refusal(ReplayedRequest("nonce 'seen' was already used", "x-yrd-nonce"))
            if body == b"fast":
                raise refusal(RateLimited("slow down", "from"))
            return b"ok:" + body

        async def audit(body: bytes) -> bytes:
            await release.wait()  # as an audit append waits for its group fsync
            return b"entry:" + body

        server = WriterLinkServer(socket_path(tmp_path), {WriterMethod.ADMIT: admit,
                                                          WriterMethod.AUDIT: audit})
        await server.start()
        link = WriterLink(socket_path(tmp_path))
        await link.connect()
        try:
            slow = asyncio.ensure_future(link.request(WriterMethod.AUDIT, b"1"))
            answers = await asyncio.gather(*(link.request(WriterMethod.ADMIT, str(n).encode())
                                             for n in range(500)))
            assert answers == [f"ok:{n}".encode() for n in range(500)]
            assert not slow.done()
            release.set()
            assert await slow == b"entry:1"
            for body, kind, field in ((b"seen", ReplayedRequest, "x-yrd-nonce"),
                                      (b"fast", RateLimited, "from")):
                with pytest.raises(PeerRefused) as refused:
                    await link.request(WriterMethod.ADMIT, body)
                with pytest.raises(kind) as raised:
                    raise_refusal(refused.value)
                assert raised.value.field == field
            with pytest.raises(NodeUnavailable):
                raise_refusal(PeerRefused("not a core error", "refused"))
            with pytest.raises(PeerUnavailable):  # no handler: the writer answers FAILED
                await link.request(WriterMethod.EMIT, b"{}")
        finally:
            await link.close()
            await server.stop()

    asyncio.run(scenario())


def test_a_writer_that_goes_away_fails_what_is_in_flight(tmp_path: Path) -> None:
    async def scenario() -> None:
        async def never(body: bytes) -> bytes:
            await asyncio.Event().wait()
            return b""

        server = WriterLinkServer(socket_path(tmp_path), {WriterMethod.AUDIT: never})
        await server.start()
        link = WriterLink(socket_path(tmp_path))
        await link.connect()
        waiting = asyncio.ensure_future(link.request(WriterMethod.AUDIT, b"x"))
        await asyncio.sleep(0.05)
        await server.stop()
        with pytest.raises(PeerUnavailable):
            await asyncio.wait_for(waiting, 5.0)
        await asyncio.wait_for(link.closed.wait(), 5.0)
        with pytest.raises(PeerUnavailable, match="not connected"):
            await link.request(WriterMethod.ADMIT, b"y")
        assert not socket_path(tmp_path).exists()

    asyncio.run(scenario())


def test_a_socket_path_too_long_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shorter data directory"):
        socket_path(tmp_path / ("d" * 120))


def test_the_writer_asks_every_worker_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = WriterLinkServer(socket_path(tmp_path), {})
        await server.start()
        assert await server.ask_workers(WriterMethod.METRICS) == []
        stuck = asyncio.Event()

        async def quiet(body: bytes) -> bytes:
            await stuck.wait()
            return b"late"

        def answering(index: int) -> dict[WriterMethod, WriterHandler]:
            async def metrics(body: bytes) -> bytes:
                return f"worker {index}: {body.decode()}".encode()
            return {WriterMethod.METRICS: metrics}

        links = [WriterLink(socket_path(tmp_path), answering(1)),
                 WriterLink(socket_path(tmp_path), answering(2)),
                 WriterLink(socket_path(tmp_path), {WriterMethod.METRICS: quiet}),
                 WriterLink(socket_path(tmp_path))]  # answers nothing: FAILED
        for link in links:
            await link.connect()
        try:
            for _ in range(100):
                if len(server._outboxes) == len(links):
                    break
                await asyncio.sleep(0.01)
            answers = await server.ask_workers(WriterMethod.METRICS, b"scrape", timeout_s=0.5)
            assert sorted(answers) == [b"worker 1: scrape", b"worker 2: scrape"]
            assert not server._asked  # nothing left waiting
            stuck.set()
        finally:
            for link in links:
                await link.close()
            await server.stop()

    asyncio.run(scenario())
