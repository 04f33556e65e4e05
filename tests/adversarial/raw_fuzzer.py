"""A raw-bytes fuzzer for a node's HTTP surface: random and mutated requests and peer frames.

Every case is bytes written straight to a socket (no HTTP client tidies them up): random bytes,
mutations of well-formed requests to every route family (bit flips, truncation, insertion,
duplicated or oversized headers, lying lengths, broken chunking), and well-formed POSTs of
mutated peer frames to `/peer/consensus` and `/peer/transactions` — routes that no longer exist
(peers speak on the mutual-TLS channel, fuzzed by `peer_fuzzer.py`), so these are refused as
unknown paths; `PeerFrames` also seeds the channel fuzzer. After each case the fuzzer asks
`/status` and counts a failure when the node does not answer 200, or when the case itself was
answered with a 5xx.

`make test` runs a fixed seed and a fixed number of cases (tests/adversarial/test_raw_fuzzer.py);
`make chaos` runs it for minutes against a whole network:

    python -m tests.adversarial.raw_fuzzer --url http://127.0.0.1:27000 --seconds 600 --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chain.consensus.codec import encode_message
from chain.consensus.messages import Commit, Prepare, Proposal, RoundChange
from chain.consensus.signing import Signer
from chain.genesis import build_genesis
from chain.presets import Preset, get_preset
from chain.wallet import sign_legacy
from contracts import bindings
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.frames import encode_frames

READ_TIMEOUT_S = 0.3  # silence after which a case with an unfinished request is abandoned
STATUS_TIMEOUT_S = 5.0
MAX_CASE_BYTES = 256 * 1024

ROUTES = (
    ("GET", "/status", b""), ("GET", "/v1/blocks/latest", b""), ("GET", "/v1/blocks/1", b""),
    ("POST", "/v1/transactions", b'{"raw": "0x01"}'), ("POST", "/v1/records", b'{"raw":"0x"}'),
    ("POST", "/v1/grants", b'{"raw": "0x02"}'), ("POST", "/v1/disputes", b"{}"),
    ("POST", "/rpc", b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}'),
    ("POST", "/rpc", b'[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]'),
    ("GET", "/v1/enterprises/91310115000010014X", b""),
    ("GET", "/v1/enterprises/91310115000010014X/report", b""),
    ("GET", "/dashboard/recent", b""), ("GET", "/dashboard/topology", b""),
    ("POST", "/dashboard/control/links", b'{"peers": "all", "cut": true}'),
    ("GET", "/peer/blocks?from=1&limit=2", b""), ("GET", "/metrics", b""),
    ("GET", "/openapi.json", b""),
)


@dataclass
class FuzzReport:
    """What a fuzz run saw."""

    cases: int = 0
    answered: int = 0
    server_errors: list[str] = field(default_factory=list)
    node_down_after: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        """Every 5xx and every case after which the node did not answer."""
        return self.server_errors + self.node_down_after

    def summary(self) -> dict[str, object]:
        """A JSON-able summary."""
        return {"cases": self.cases, "answered": self.answered,
                "server_errors": len(self.server_errors),
                "node_down_after": len(self.node_down_after),
                "statuses": dict(sorted(self.statuses.items()))}


def request_bytes(method: str, target: str, body: bytes, host: str,
                  headers: list[tuple[str, str]] | None = None) -> bytes:
    """A well-formed HTTP/1.1 request."""
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}", "connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body or method == "POST":
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class PeerFrames:
    """Signed consensus messages and transactions of a preset, the seeds of frame mutations."""

    def __init__(self, preset: Preset) -> None:
        genesis = build_genesis(preset)
        chain_id = consensus_chain_id(preset)
        node = preset.nodes[-1].node_id
        signer = Signer(node, preset.node_seed(node), chain_id)
        block_hash = b"\x11" * 32
        self.consensus = [encode_message(signer.sign(message)) for message in (
            Prepare(1, 0, block_hash, ""), Commit(1, 0, block_hash, signer.seal(1, block_hash), ""),
            RoundChange(1, 1, None, b"", ""), Proposal(1, 0, block_hash, "", b"\x00" * 64),
            Prepare(10**6, 0, block_hash, ""), RoundChange(2, 70, None, b"", ""))]
        bureau = preset.key(f"bureau:{preset.nodes[0].city.value}")
        self.registry = genesis.contracts.registry
        self.transactions = [sign_legacy(bureau, preset.chain_id, nonce, genesis.contracts.registry,
                                         bindings.encode_revoke(bytes([nonce + 1]) * 32, 1))
                             for nonce in range(3)]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits of `data`."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        position = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            index = rng.randrange(len(out))
            out[index] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[position:position] = rng.randbytes(rng.randint(1, 64))
        elif choice == 2:
            del out[position:position + rng.randint(1, 64)]
        elif choice == 3:
            out = out[:position]
        elif choice == 4 and out:
            start = rng.randrange(len(out))
            piece = out[start:start + rng.randint(1, 256)]
            out[position:position] = piece * rng.randint(2, 50)
        elif choice == 5:
            out[position:position] = rng.choice((b"\r\n", b"\n", b"\x00", b"\r\n\r\n", b":",
                                                 b"%00", b"\xff\xfe", b"[" * 200, b"{" * 200))
        else:
            out[position:position] = str(rng.choice((-1, 0, 2**31, 2**64, 10**30))).encode()
    return bytes(out[:MAX_CASE_BYTES])


def http_case(rng: random.Random, host: str) -> tuple[str, bytes]:
    """A mutated, odd or random HTTP request."""
    method, target, body = rng.choice(ROUTES)
    kind = rng.randrange(9)
    if kind == 0:
        return "random", rng.randbytes(rng.randint(1, 4096))
    if kind == 1:
        headers = [(f"x-{i}", "v" * rng.randint(1, 200)) for i in range(rng.randint(50, 300))]
        return "many headers", request_bytes(method, target, body, host, headers)
    if kind == 2:
        return "huge header", request_bytes(method, target, body, host,
                                            [("x-big", "a" * rng.randint(8_000, 100_000))])
    if kind == 3:
        raw = request_bytes(method, target, body, host).replace(
            f"content-length: {len(body)}".encode(),
            f"content-length: {rng.choice((-5, 10**12, len(body) + 7, 0))}".encode())
        return "lying length", raw
    if kind == 4:
        chunks = (b"5\r\nhello\r\n" + rng.choice((b"zz\r\n", b"0\r\n", b"fffffffffff\r\n"))
                  + rng.randbytes(8))
        head = (f"POST {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n"
                "transfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n")
        return "broken chunking", head.encode() + chunks
    if kind == 5:
        weird = rng.choice(("GET /" + "a" * 20_000, "BREW /status", "GET /v1/blocks/%204",
                            "GET /v1/blocks/" + "9" * 400, "GET /../../etc/passwd",
                            "GET /v1/records/0x" + "zz" * 32, "OPTIONS *", "GET http://x/status",
                            "POST /rpc", "DELETE /v1/records", "GET /dashboard/static/..%2f"))
        return "odd target", (f"{weird} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n"
                              "content-length: 0\r\n\r\n").encode()
    if kind == 6:
        nested = rng.choice((b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                             b'{"raw": "0x' + b"00" * 100_000 + b'"}', b"\xff" * 1000))
        return "hostile body", request_bytes("POST", target if method == "POST" else "/rpc",
                                             nested, host)
    return "mutated request", mutate(request_bytes(method, target, body, host), rng)


def peer_case(rng: random.Random, host: str, frames: PeerFrames) -> tuple[str, bytes]:
    """A well-formed POST of mutated peer frames."""
    channel = rng.choice(("consensus", "transactions"))
    seeds = frames.consensus if channel == "consensus" else frames.transactions
    chosen = [rng.choice(seeds) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.8:
        chosen = [mutate(item, rng) if rng.random() < 0.7 else item for item in chosen]
    body = encode_frames(chosen)
    if rng.random() < 0.2:
        body = mutate(body, rng)
    head = (f"POST /peer/{channel} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n"
            f"content-type: application/octet-stream\r\ncontent-length: {len(body)}\r\n\r\n")
    return f"peer {channel}", head.encode() + body


def send_case(host: str, port: int, data: bytes) -> bytes:
    """Write a case and read what comes back until the node closes or falls silent."""
    with socket.create_connection((host, port), timeout=STATUS_TIMEOUT_S) as connection:
        connection.settimeout(READ_TIMEOUT_S)
        with contextlib.suppress(OSError):
            connection.sendall(data)
        chunks = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < 2.0:
                chunk = connection.recv(65_536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            pass
    return b"".join(chunks)


def node_answers(host: str, port: int) -> bool:
    """Whether GET /status answers 200 within the timeout."""
    try:
        with socket.create_connection((host, port), timeout=STATUS_TIMEOUT_S) as connection:
            connection.settimeout(STATUS_TIMEOUT_S)
            connection.sendall(request_bytes("GET", "/status", b"", host))
            answer = connection.recv(64)
        return answer.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def fuzz(url: str, seed: int, cases: int | None = None, seconds: float | None = None,
         preset_name: str = "local4", on_case: Callable[[int], None] | None = None) -> FuzzReport:
    """Run `cases` cases (or for `seconds`) against the node at `url`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(seed)
    frames = PeerFrames(get_preset(preset_name))
    report = FuzzReport()
    deadline = None if seconds is None else time.monotonic() + seconds
    while (cases is None or report.cases < cases) and (
            deadline is None or time.monotonic() < deadline):
        name, data = (peer_case(rng, host, frames) if rng.random() < 0.3
                      else http_case(rng, host))
        answer = send_case(host, port, data)
        report.cases += 1
        if answer.startswith(b"HTTP/1.1 ") and answer[9:12].isdigit():
            status = int(answer[9:12])
            report.answered += 1
            report.statuses[status] = report.statuses.get(status, 0) + 1
            if status >= 500 and status != 503:
                report.server_errors.append(f"case {report.cases} ({name}): {answer[:300]!r}")
        if not node_answers(host, port):
            report.node_down_after.append(f"case {report.cases} ({name}): {data[:200]!r}")
            if not node_answers(host, port):
                break
        if on_case is not None:
            on_case(report.cases)
    return report


def main() -> int:
    """Command line: fuzz a running node; exit status 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--preset", default="local4")
    arguments = parser.parse_args()
    report = fuzz(arguments.url, arguments.seed, arguments.cases, arguments.seconds,
                  arguments.preset)
    return print_outcome(report.summary(), report.failures)


def print_outcome(summary: dict[str, object], failures: list[str]) -> int:
    """Print a fuzz run's summary (JSON) and its first failures; the exit status."""
    print(json.dumps(summary))
    for failure in failures[:20]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
