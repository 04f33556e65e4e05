"""The benchmark drivers' lean HTTP client against a real socket server."""

from __future__ import annotations

import asyncio
import json

import pytest

from benchmarks.lean_http import LeanClient, LeanHttpError, lean_client


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next((int(line.split(":")[1]) for line in lines
                       if line.lower().startswith("content-length")), 0)
        body = await reader.readexactly(length)
        path = lines[0].split()[1]
        if path == "/close":
            writer.close()
            return
        answer = json.dumps({"path": path, "echo": body.decode()}).encode()
        if path == "/chunked":
            half = len(answer) // 2
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
                             half, answer[:half], len(answer) - half, answer[half:]))
        else:
            status = b"200 OK" if path == "/rpc" else b"201 Created"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s"
                         % (status, len(answer), answer))
        await writer.drain()


def test_answers_with_length_and_chunked_on_kept_alive_connections() -> None:
    async def run() -> None:
        server = await asyncio.start_server(_serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, lean_client(f"http://127.0.0.1:{port}", 2) as client:
            request = client.encode("POST", "/x", b'{"a": 1}')
            answers = await asyncio.gather(*(client.send(request) for _ in range(10)))
            assert {status for status, _ in answers} == {201}
            assert json.loads(answers[0][1]) == {"path": "/x", "echo": '{"a": 1}'}
            status, body = await client.send(client.encode("GET", "/chunked"))
            assert status == 200 and json.loads(body) == {"path": "/chunked", "echo": ""}
            reply = await client.rpc("/rpc", "eth_chainId", [])
            with pytest.raises(LeanHttpError, match="HTTP 201"):
                await client.rpc("/other", "eth_chainId", [])
            assert reply["path"] == "/rpc" and json.loads(reply["echo"])["method"] == "eth_chainId"
    asyncio.run(run())


def test_a_closed_connection_is_an_error_and_is_replaced() -> None:
    async def run() -> None:
        server = await asyncio.start_server(_serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, lean_client(f"http://127.0.0.1:{port}", 1) as client:
            with pytest.raises(LeanHttpError, match="connection"):
                await client.send(client.encode("GET", "/close"))
            status, _ = await client.send(client.encode("GET", "/again"))
            assert status == 201
    asyncio.run(run())


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        LeanClient("https://127.0.0.1:1", 1)
