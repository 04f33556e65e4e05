"""The wrk script: each prepared request is sent once; an exhausted file shows as non-2xx."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import threading
from pathlib import Path

import pytest

from benchmarks.wrk_lua import encode_request_line, run_wrk, write_script

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk missing: make wrk")


def _port() -> int:
    for port in random.sample(range(23_000, 24_000), 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 23000-23999")


class NonceServer:
    """HTTP/1.1 keep-alive server answering 200 to a nonce seen first, 401 to a repeat."""

    def __init__(self) -> None:
        self.port = _port()
        self.seen: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.server = server
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                nonce = next((line.split(b":", 1)[1].strip().decode() for line in
                              head.split(b"\r\n") if line.lower().startswith(b"x-nonce:")), "")
                status = b"401 Unauthorized" if nonce in self.seen else b"200 OK"
                self.seen.append(nonce)
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def __enter__(self) -> NonceServer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_each_signed_line_goes_once_and_exhaustion_is_counted(tmp_path: Path) -> None:
    lines = tmp_path / "requests.txt"
    lines.write_text("".join(encode_request_line("GET", f"/r/{n}", {"x-nonce": f"n{n:04d}"})
                             for n in range(200)))
    with NonceServer() as server:
        result = run_wrk(f"http://127.0.0.1:{server.port}", lines, write_script(tmp_path), 1.0,
                         threads=2, connections=4)
    assert set(server.seen) == {f"n{n:04d}" for n in range(200)}  # every line, nothing else
    assert result.requests > 200  # a second on loopback sends far more than 200
    # every request past the file is a replay (one first request may still be in flight)
    assert result.requests - 200 <= result.non_2xx <= result.requests - 199
    assert result.failed_fraction > 0.01
    assert result.cpu_seconds > 0


def test_a_single_line_is_repeated_without_errors(tmp_path: Path) -> None:
    line = tmp_path / "call.txt"
    line.write_text(encode_request_line("POST", "/", {"Content-Type": "application/json"},
                                        '{"method":"eth_call"}'))
    with NonceServer() as server:
        result = run_wrk(f"http://127.0.0.1:{server.port}", line, write_script(tmp_path), 1.0,
                         threads=1, connections=1)
    assert result.requests > 1 and result.non_2xx == result.requests - 1
    assert set(server.seen) == {""}  # no x-nonce header: the same request every time


def test_a_rate_holds_the_load_near_it(tmp_path: Path) -> None:
    line = tmp_path / "call.txt"
    line.write_text(encode_request_line("GET", "/", {}))
    with NonceServer() as server:
        result = run_wrk(f"http://127.0.0.1:{server.port}", line, write_script(tmp_path), 2.0,
                         threads=2, connections=8, rate=300)
    assert 0.7 * 300 <= result.per_s <= 1.2 * 300, result
