"""A fuzzer for a node's mutual-TLS peer channel, against any running node's peer port.

Two families of cases, each on a fresh TCP connection to the node's peer-channel port:

- **Refused connections**: no client certificate, a certificate from another CA, a certificate
  from the consortium CA for a name that is no validator or with a key that is not the
  validator's, the certificate of a validator this node dials itself, and plaintext garbage.
  Each must be closed without one frame answered: the node's `connections_opened` and
  `requests_served` counters (`/metrics`) do not move.
- **Frames from an authenticated peer**: with the certificate and key of a consortium node that
  is not running (`--as`), random and mutated frames — bad and huge length prefixes, truncated
  frames, unknown kinds and methods, requests of every method with malformed bodies, forged
  consensus messages (signed with the wrong key, or mutated), transactions that do not verify,
  responses nobody asked for, and replays of the frames the node itself sent.

After every case the node must answer `GET /status`. `check_unchanged` then compares what the
fuzz must not have changed: the node still commits, its mempool is empty, the blocks committed
meanwhile carry no transaction, and the running nodes agree on every block hash.

`make test` runs a fixed seed and count (tests/adversarial/test_quorum_node.py); `make chaos`
runs it for minutes on a network of its own (local4 without hangzhou-1, ports 27380-27387):

    python -m tests.adversarial.peer_fuzzer --own-network --seconds 180 --seed 7
    python -m tests.adversarial.peer_fuzzer --url http://127.0.0.1:8601 --peer 127.0.0.1:8605 \
        --network-dir DATA_DIR --as hangzhou-1 --dialer shanghai-1 --seconds 180
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import ssl
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chain.consensus.codec import encode_message
from chain.consensus.messages import Commit, Prepare, Proposal, RoundChange
from chain.consensus.signing import Signer
from chain.crypto import derive_private_key
from chain.presets import Preset
from chain.wallet import sign_legacy
from contracts import bindings
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.channel import HEADER, MAX_FRAME_BODY_BYTES, FrameKind, PeerMethod
from tests.adversarial.peer_identities import Identities
from tests.adversarial.raw_fuzzer import PeerFrames, mutate, print_outcome

CONNECT_TIMEOUT_S = 5.0
READ_WINDOW_S = 0.25  # how long a case listens for what the node sends back
STATUS_TIMEOUT_S = 5.0
MAX_REPLAY_POOL = 64
COUNTERS = ("yrd_peer_connections_opened_total", "yrd_peer_requests_served_total")


@dataclass
class PeerFuzzReport:
    """What a peer fuzz run saw."""

    cases: int = 0
    refused_cases: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # answer status -> count
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """A JSON-able summary."""
        return {"cases": self.cases, "refused_cases": self.refused_cases,
                "frames_sent": self.frames_sent, "frames_received": self.frames_received,
                "answers": dict(sorted(self.answers.items())), "failures": len(self.failures)}


def frame(kind: int, request_id: int, body: bytes) -> bytes:
    """A frame with any kind byte (unknown ones included)."""
    return HEADER.pack(len(body), kind, request_id) + body


def parse_frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """The whole frames at the start of `data` (kind, request id, body)."""
    frames, offset = [], 0
    while offset + HEADER.size <= len(data):
        length, kind, request_id = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if end > len(data):
            break
        frames.append((kind, request_id, data[offset + HEADER.size:end]))
        offset = end
    return frames


def exchange(address: tuple[str, int], context: ssl.SSLContext | None, chunks: list[bytes],
             window_s: float = READ_WINDOW_S) -> bytes | None:
    """Connect (TLS with `context`, or plaintext), write the chunks, read for `window_s`.

    What the node sent back; None when the TLS handshake itself failed."""
    with socket.create_connection(address, timeout=CONNECT_TIMEOUT_S) as raw:
        if context is None:
            stream: socket.socket = raw
        else:
            try:
                stream = context.wrap_socket(raw)
            except (ssl.SSLError, OSError):
                return None
        received = bytearray()
        with contextlib.suppress(OSError, ssl.SSLError):
            for chunk in chunks:
                stream.sendall(chunk)
            stream.settimeout(window_s)
            deadline = time.monotonic() + window_s
            while time.monotonic() < deadline:
                data = stream.recv(65_536)
                if not data:
                    break
                received += data
        return bytes(received)


def metric(text: str, name: str) -> int:
    """A counter's value in a /metrics text (0 when absent)."""
    found = re.search(rf"^{name}{{[^}}]*}} (\d+)", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


class FrameSource:
    """Seeded hostile frames for an authenticated connection."""

    def __init__(self, preset: Preset, impersonated: str, rng: random.Random) -> None:
        self.rng = rng
        seeds = PeerFrames(preset)
        self.consensus_seeds = seeds.consensus
        self.transaction_seeds = seeds.transactions
        chain_id = consensus_chain_id(preset)
        # Signed under validators' names with keys that are not theirs.
        self.forgers = [Signer(node.node_id, bytes([index + 1]) * 32, chain_id)
                        for index, node in enumerate(preset.nodes)]
        self.impersonated = impersonated
        stranger = derive_private_key(b"peer-fuzz-stranger")
        registry = seeds.registry
        self.forged_transactions = [sign_legacy(stranger, preset.chain_id, nonce, registry,
                                                bindings.encode_revoke(b"\3" * 32, 1))
                                    for nonce in range(2)]
        self.replay_pool: list[bytes] = []

    def forged_consensus(self, height: int) -> bytes:
        rng, signer = self.rng, self.rng.choice(self.forgers)
        block_hash = rng.randbytes(32)
        height = max(1, height + rng.randint(-1, 2))
        message = rng.choice((
            Proposal(height, 0, block_hash, "", rng.randbytes(rng.randint(0, 256))),
            Prepare(height, rng.randint(0, 3), block_hash, ""),
            Commit(height, 0, block_hash, signer.seal(height, block_hash), ""),
            RoundChange(height, rng.randint(1, 90), None, b"", "")))
        encoded = encode_message(signer.sign(message))
        return mutate(encoded, rng) if rng.random() < 0.3 else encoded

    def case(self, height: int) -> tuple[str, list[bytes]]:
        """One case: its name and the chunks to write."""
        rng = self.rng
        kind = rng.randrange(12)
        if kind == 0:
            return "random bytes", [rng.randbytes(rng.randint(1, 4096))]
        if kind == 1:
            body = rng.randbytes(rng.randint(0, 64))
            lie = rng.choice((len(body) + rng.randint(1, 1000), max(0, len(body) - 5),
                              MAX_FRAME_BODY_BYTES + 1, 2**32 - 1))
            return "bad length prefix", [struct.pack(">IBQ", lie, rng.choice(list(FrameKind)),
                                                     rng.getrandbits(64)) + body]
        if kind == 2:
            whole = frame(FrameKind.CONSENSUS, 0, self.forged_consensus(height))
            return "truncated frame", [whole[:rng.randint(1, len(whole) - 1)]]
        if kind == 3:
            return "huge declared length", [struct.pack(">IBQ", rng.choice(
                (MAX_FRAME_BODY_BYTES + 1, 2**31, 2**32 - 1)), FrameKind.REQUEST, 1),
                rng.randbytes(rng.randint(0, 65_536))]
        if kind == 4:
            return "unknown kind", [frame(rng.choice((0, 5, 9, 127, 255)), rng.getrandbits(64),
                                          rng.randbytes(rng.randint(0, 128)))]
        if kind == 5:
            method = rng.choice((0, 7, 42, 255))
            return "unknown method", [frame(FrameKind.REQUEST, rng.getrandbits(63) + 1,
                                            bytes((method,)) + rng.randbytes(32))]
        if kind == 6:
            method = rng.choice(list(PeerMethod))
            body = rng.choice((b"", rng.randbytes(rng.randint(1, 512)), b"{" * 4000,
                               b'{"hashes": [7]}', b"\xff" * 64, b"[" * 100_000))
            return f"malformed {method.name} request", [frame(
                FrameKind.REQUEST, rng.getrandbits(63) + 1, bytes((method,)) + body)]
        if kind == 7:
            return "forged consensus", [b"".join(
                frame(FrameKind.CONSENSUS, 0, self.forged_consensus(height))
                for _ in range(rng.randint(1, 20)))]
        if kind == 8:
            seed = rng.choice(self.consensus_seeds)
            return "mutated consensus", [frame(FrameKind.CONSENSUS, rng.getrandbits(64),
                                               mutate(seed, rng))]
        if kind == 9:
            raws = [mutate(rng.choice(self.transaction_seeds), rng) for _ in range(3)]
            raws.append(rng.choice(self.forged_transactions))
            return "bad transactions", [b"".join(frame(FrameKind.TRANSACTIONS, 0, raw)
                                                 for raw in raws)]
        if kind == 10:
            return "unasked responses", [frame(FrameKind.RESPONSE, rng.getrandbits(64),
                                               rng.randbytes(rng.randint(0, 64)))]
        if self.replay_pool:
            chosen = [rng.choice(self.replay_pool) for _ in range(rng.randint(1, 10))]
            return "replayed frames", [b"".join(chosen)]
        return "forged consensus", [frame(FrameKind.CONSENSUS, 0, self.forged_consensus(height))]

    def remember(self, received: bytes) -> int:
        """Keep the gossip frames the node sent, to replay them; how many frames came."""
        frames = parse_frames(received)
        for kind, request_id, body in frames:
            if kind in (FrameKind.CONSENSUS, FrameKind.TRANSACTIONS):
                if len(self.replay_pool) >= MAX_REPLAY_POOL:
                    self.replay_pool.pop(self.rng.randrange(MAX_REPLAY_POOL))
                self.replay_pool.append(frame(kind, request_id, body))
        return len(frames)


@dataclass(frozen=True, slots=True)
class PeerTarget:
    """A node to fuzz: its HTTP URL, its peer-channel address, the network directory (CA and
    certificates) and the node to speak as (a consortium node that is not running)."""

    url: str
    peer_address: tuple[str, int]
    network_dir: Path
    impersonated: str
    dialer: str  # a validator the target dials (it must refuse that one's connections)


def fuzz_peer_channel(target: PeerTarget, preset: Preset, seed: int, cases: int | None = None,
                      seconds: float | None = None,
                      on_case: Callable[[int], None] | None = None) -> PeerFuzzReport:
    """Run the refused-connection cases, then `cases` frame cases (or for `seconds`)."""
    rng = random.Random(seed)
    report = PeerFuzzReport()
    with tempfile.TemporaryDirectory(prefix="yrd-peer-fuzz-") as directory, httpx.Client(
            timeout=STATUS_TIMEOUT_S) as http:
        identities = Identities(preset, target.network_dir, target.impersonated, target.dialer,
                                Path(directory))
        source = FrameSource(preset, target.impersonated, rng)
        probe = frame(FrameKind.REQUEST, 1, bytes((PeerMethod.BLOCKS,)) + b"\0" * 16)
        refused: list[tuple[str, ssl.SSLContext | None]] = [
            *identities.refused.items(), ("plaintext garbage", None)]
        for name, context in refused:
            before = http.get(f"{target.url}/metrics").text
            chunks = [probe, frame(FrameKind.CONSENSUS, 0, source.forged_consensus(1))]
            if context is None:
                chunks = [rng.randbytes(512), probe]
            received = exchange(target.peer_address, context, chunks, window_s=1.0)
            after = http.get(f"{target.url}/metrics").text
            report.cases += 1
            report.refused_cases += 1
            if received:
                report.failures.append(f"{name}: the node sent {len(received)} bytes")
            moved = [c for c in COUNTERS if metric(after, c) != metric(before, c)]
            if moved:
                report.failures.append(f"{name}: the connection got in ({', '.join(moved)})")
            _check_alive(http, target.url, f"after {name}", report)
        deadline = None if seconds is None else time.monotonic() + seconds
        height = _height(http, target.url)
        while (cases is None or report.cases - report.refused_cases < cases) and (
                deadline is None or time.monotonic() < deadline):
            name, chunks = source.case(height)
            received = exchange(target.peer_address, identities.valid, chunks)
            report.cases += 1
            report.frames_sent += sum(len(parse_frames(chunk)) for chunk in chunks)
            if received is None:
                report.failures.append(f"case {report.cases} ({name}): handshake refused")
            else:
                report.frames_received += source.remember(received)
                for kind, _, body in parse_frames(received):
                    if kind == FrameKind.RESPONSE and body:
                        status = {0: "ok", 1: "refused", 2: "failed"}.get(body[0], "other")
                        report.answers[status] = report.answers.get(status, 0) + 1
            if not _check_alive(http, target.url, f"case {report.cases} ({name})", report):
                break
            if report.cases % 25 == 0:
                height = _height(http, target.url)
            if on_case is not None:
                on_case(report.cases)
    return report


def _height(http: httpx.Client, url: str) -> int:
    return int(http.get(f"{url}/status").json()["height"])


def _check_alive(http: httpx.Client, url: str, when: str, report: PeerFuzzReport) -> bool:
    try:
        if http.get(f"{url}/status").status_code == 200:
            return True
    except httpx.HTTPError:
        pass
    report.failures.append(f"{when}: /status did not answer 200")
    return False


def check_unchanged(urls: list[str], start_height: int,
                    timeout_s: float = 60.0) -> list[str]:
    """What the fuzz must not have changed, on the running nodes at `urls` (the target first).

    The target commits at least two more blocks; every node's mempool is empty; the blocks after
    `start_height` carry no transaction; the nodes agree on every block hash they share."""
    problems: list[str] = []
    with httpx.Client(timeout=STATUS_TIMEOUT_S) as http:
        deadline = time.monotonic() + timeout_s
        while _height(http, urls[0]) < start_height + 2:
            if time.monotonic() > deadline:
                problems.append(f"no two new blocks after height {start_height} in "
                                f"{timeout_s:.0f} s")
                break
            time.sleep(0.5)
        statuses = [http.get(f"{url}/status").json() for url in urls]
        problems += [f"{s['node_id']} holds {s['mempool']} pending transactions"
                     for s in statuses if s["mempool"]]
        shared = min(int(s["height"]) for s in statuses)
        for height in range(start_height + 1, shared + 1):
            blocks = [http.get(f"{url}/v1/blocks/{height}").json() for url in urls]
            if len({block["hash"] for block in blocks}) != 1:
                problems.append(f"the nodes differ at height {height}")
            if blocks[0]["transactions"]:
                problems.append(f"block {height} carries {blocks[0]['transactions']}")
    return problems


def run_on_own_network(seconds: float, seed: int, base_port: int) -> int:
    """Start local4 without `hangzhou-1`, fuzz `nanjing-1` as it for `seconds`, check; exit
    status 1 on any failure (`make chaos`)."""
    import json

    from chain.presets import get_preset
    from tests.adversarial.single_node import PRESET_NAME, network_without

    absent, target_id, dialer = "hangzhou-1", "nanjing-1", "shanghai-1"
    with tempfile.TemporaryDirectory(prefix="yrd-peer-chaos-") as directory, network_without(
            Path(directory), base_port, absent) as running:
        node = running[target_id]
        with httpx.Client(timeout=STATUS_TIMEOUT_S) as http:
            start = _height(http, node.config.url)
        started = time.monotonic()
        report = fuzz_peer_channel(
            PeerTarget(node.config.url, ("127.0.0.1", node.config.peer_port), Path(directory),
                       absent, dialer), get_preset(PRESET_NAME), seed, seconds=seconds)
        urls = [node.config.url] + [m.config.url for n, m in running.items() if n != target_id]
        problems = report.failures + check_unchanged(urls, start)
        alive = all(m.process is not None and m.process.poll() is None
                    for m in running.values())
        with httpx.Client(timeout=STATUS_TIMEOUT_S) as http:
            heights = {n: _height(http, m.config.url) for n, m in running.items()}
        print(json.dumps({"seconds": round(time.monotonic() - started), **report.summary(),
                          "height_before": start, "heights_after": heights,
                          "processes_alive": alive, "problems": len(problems)}))
        for problem in problems[:20]:
            print(problem)
        return 1 if problems or not alive else 0


def main() -> int:
    """Command line: fuzz a running node's peer channel, or start a network and fuzz it
    (`--own-network`); exit status 1 on any failure."""
    import argparse

    from chain.presets import get_preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--own-network", action="store_true",
                        help="start local4 without hangzhou-1 and fuzz nanjing-1 as it")
    parser.add_argument("--base-port", type=int, default=27_380)
    parser.add_argument("--url", help="the target node's HTTP URL")
    parser.add_argument("--peer", help="its peer channel, HOST:PORT")
    parser.add_argument("--network-dir", type=Path,
                        help="the network directory holding ca.pem and certs/")
    parser.add_argument("--as", dest="impersonated",
                        help="a node that dials the target and is not running")
    parser.add_argument("--dialer", help="a node the target dials")
    parser.add_argument("--preset", default="local4")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", type=int)
    parser.add_argument("--seconds", type=float)
    arguments = parser.parse_args()
    if arguments.own_network:
        return run_on_own_network(arguments.seconds or 180.0, arguments.seed,
                                  arguments.base_port)
    if None in (arguments.url, arguments.peer, arguments.network_dir, arguments.impersonated,
                arguments.dialer):
        parser.error("--url, --peer, --network-dir, --as and --dialer (or --own-network)")
    host, _, port = arguments.peer.rpartition(":")
    target = PeerTarget(arguments.url, (host, int(port)), arguments.network_dir,
                        arguments.impersonated, arguments.dialer)
    report = fuzz_peer_channel(target, get_preset(arguments.preset), arguments.seed,
                               arguments.cases, arguments.seconds)
    return print_outcome(report.summary(), report.failures)


if __name__ == "__main__":
    raise SystemExit(main())
