"""HTTP edge limits (nodes/api/limits.py) on a node's app served over a real socket."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from nodes.api.limits import HttpLimits
from tests.nodes.api_node import ApiNode, make_api_node
from tests.nodes.served_node import ServedApp, read_all, served

PORT = 27_101
LIMITS = HttpLimits(header_read_timeout_s=0.5, body_read_timeout_s=0.5, max_connections=64)


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis,
         tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path_factory.mktemp("limits"))


@pytest.fixture(scope="module")
def server(node: ApiNode) -> Iterator[ServedApp]:
    with served(node.client.app, PORT, LIMITS) as app:  # type: ignore[arg-type]
        yield app


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:100]
    return int(response[9:12])


def test_the_served_node_answers(server: ServedApp) -> None:
    assert httpx.get(f"{server.url}/status").status_code == 200


def test_too_many_headers_is_431(server: ServedApp) -> None:
    headers = "".join(f"x-h{i}: v\r\n" for i in range(LIMITS.max_header_count + 1))
    response = server.exchange(f"GET /status HTTP/1.1\r\nhost: a\r\n{headers}\r\n".encode())
    assert status_of(response) == 431
    assert b'"error":"headers_too_large"' in response


def test_an_oversized_header_block_is_refused(server: ServedApp) -> None:
    big = "x" * (LIMITS.max_header_bytes + 1024)
    response = server.exchange(f"GET /status HTTP/1.1\r\nhost: a\r\nx-big: {big}\r\n\r\n"
                               .encode())
    assert status_of(response) == 431
    assert b'"error":"headers_too_large"' in response


def test_a_32_mib_header_is_cut_off_without_reading_it_all(server: ServedApp) -> None:
    with server.connect() as connection:
        connection.sendall(b"GET /status HTTP/1.1\r\nhost: a\r\nx-big: ")
        sent = 0
        try:
            while sent < 32 * 1024 * 1024:
                connection.sendall(b"x" * 65_536)
                sent += 65_536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 32 * 1024 * 1024, "the server kept reading a 32 MiB header"


def test_a_slow_request_head_is_closed_at_the_deadline(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(b"GET /status HTTP/1.1\r\nhost: a\r\n")
        started = time.monotonic()
        assert read_all(connection) == b""  # closed without an answer
        assert time.monotonic() - started < LIMITS.header_read_timeout_s + 2


def test_an_idle_connection_after_a_response_is_closed(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(b"GET /status HTTP/1.1\r\nhost: a\r\n\r\n")
        time.sleep(0.1)
        connection.sendall(b"GET /status HTTP/1.1\r\nhost: a\r\n")  # a second head, unfinished
        started = time.monotonic()
        answer = read_all(connection)
        assert answer.count(b"HTTP/1.1 200") == 1
        assert time.monotonic() - started < LIMITS.header_read_timeout_s + 2


def test_a_trickled_body_is_408(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(b"POST /v1/grants HTTP/1.1\r\nhost: a\r\ncontent-type: "
                           b"application/octet-stream\r\ncontent-length: 100\r\n\r\n{")
        response = read_all(connection)
    assert status_of(response) == 408


def test_a_trickled_json_rpc_body_is_408(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(b"POST /rpc HTTP/1.1\r\nhost: a\r\ncontent-type: application/json"
                           b"\r\ncontent-length: 100\r\n\r\n{")
        response = read_all(connection)
    assert status_of(response) == 408
    assert b'"error":"request_timeout"' in response


def test_a_json_rpc_body_past_its_limit_is_413_before_it_is_read(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(b"POST /rpc HTTP/1.1\r\nhost: a\r\ncontent-type: application/json"
                           b"\r\ncontent-length: 99999999\r\n\r\n[")
        response = read_all(connection)
    assert status_of(response) == 413
    assert b'"error":"oversized"' in response


def test_too_many_headers_on_a_fast_route_is_431(server: ServedApp) -> None:
    headers = "".join(f"x-h{i}: v\r\n" for i in range(LIMITS.max_header_count + 1))
    for head in ("GET /v1/enterprises/91310000000000000X/report",
                 "POST /rpc"):
        response = server.exchange(f"{head} HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n"
                                   f"{headers}\r\n".encode())
        assert status_of(response) == 431, head
        assert b'"error":"headers_too_large"' in response


def test_the_node_answers_after_every_limit(server: ServedApp) -> None:
    assert httpx.get(f"{server.url}/status").json()["node_id"] == "shanghai-1"


def test_limits_reach_the_real_node_process_settings() -> None:
    from nodes.api.limits import HTTP_LIMITS, BoundedHttpProtocol, server_settings

    settings = server_settings()
    assert settings["http"] is BoundedHttpProtocol
    assert settings["limit_concurrency"] == HTTP_LIMITS.max_connections
    assert Path(__file__).exists()


def _answers(connection: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` HTTP answers read off a kept-alive connection: (status, headers, body)."""
    buffer, found = b"", []
    while len(found) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = connection.recv(65_536)
            assert chunk, f"closed after {len(found)} answers"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in
                   (line.split(":", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        while len(buffer) < length:
            buffer += connection.recv(65_536)
        found.append((int(lines[0][9:12]), headers, buffer[:length]))
        buffer = buffer[length:]
    return found


REPORT_HEAD = b"GET /v1/enterprises/91310000000000000X/report HTTP/1.1\r\nhost: a\r\n"


def test_a_report_answered_by_the_protocol_matches_the_framework_path(
        server: ServedApp) -> None:
    """An unsigned report is refused the same way whether the server protocol answers it
    directly (kept-alive HTTP/1.1) or the ASGI path does (`connection: close`)."""
    with server.connect() as connection:
        connection.sendall(REPORT_HEAD + b"\r\n")
        [(status, headers, body)] = _answers(connection, 1)
    framework = server.exchange(REPORT_HEAD + b"connection: close\r\n\r\n")
    assert status == status_of(framework) == 401
    assert framework.endswith(body) and b'"error"' in body
    assert {"date", "server", "content-type", "content-length"} <= set(headers)


def test_pipelined_reports_and_other_requests_are_answered_in_order(server: ServedApp) -> None:
    with server.connect() as connection:
        connection.sendall(REPORT_HEAD + b"\r\n" + b"GET /status HTTP/1.1\r\nhost: a\r\n\r\n"
                           + REPORT_HEAD + b"\r\n" + REPORT_HEAD + b"\r\n")
        answers = _answers(connection, 4)
        assert [status for status, _, _ in answers] == [401, 200, 401, 401]
        assert b'"node_id"' in answers[1][2]
        connection.sendall(REPORT_HEAD + b"\r\n")  # the connection is still kept alive
        assert _answers(connection, 1)[0][0] == 401


def test_after_a_direct_answer_the_head_deadline_applies_again(server: ServedApp) -> None:
    with server.connect(timeout_s=5) as connection:
        connection.sendall(REPORT_HEAD + b"\r\n")
        assert _answers(connection, 1)[0][0] == 401
        connection.sendall(b"GET /status HTTP/1.1\r\nhost: a\r\n")  # never finished
        started = time.monotonic()
        assert read_all(connection) == b""
        assert time.monotonic() - started < LIMITS.header_read_timeout_s + 2
