"""The engine benchmark's live half: CPU per committed publish per node on a running local4.

For each engine in turn (interleaved over rounds), `measure_live` writes a local4 network with
that `--execution` into a temporary directory on fixed loopback ports, starts the four node
processes, waits until they serve, then sends signed publishes with `eth_sendRawTransaction`
(each bureau to its own city's node, nonces in order, the four bureaus at once) at a fixed
offered rate, and waits until the last of them is committed. The node processes' CPU (user + system,
from `/proc/<pid>/stat`, idle consensus ticks included) from the first send to the last commit,
divided by publishes and by nodes, is the figure; the caller expresses it in coincurve
recoveries measured in the same run.

While the clock runs, the driver asks only for each bureau's last publish (nonces commit in
order, so its receipt means the bureau's every publish is committed): a few lookups per poll,
not one per publish on the first node, which would add the driver's reads to the publishes'
cost. Once the CPU is read, every publish's receipt is checked for success.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.lean_http import LeanClient
from chain.presets import get_preset
from nodes.cluster.network import NetworkProcess, start_node, stop_node, wait_ready, write_network

LIVE_PRESET = "local4"
LIVE_BASE_PORT = 21800  # this benchmark's loopback ports: 21800 .. 21803
COMMIT_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.1
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LiveRound:
    """One engine on a live network: CPU microseconds per committed publish per node."""

    engine: str
    publishes: int
    seconds: float
    node_us: float
    recovery_us: float


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def _network_cpu_s(members: Sequence[NetworkProcess]) -> float:
    return sum(process_cpu_s(m.process.pid) for m in members if m.process is not None)


def _rpc(client: httpx.Client, url: str, method: str, params: list[object]) -> object:
    reply = client.post(f"{url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                            "params": params}).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


def measure_live(engine: str, transactions: Sequence[tuple[int, bytes, bytes]], rate_per_s: float,
                 recovery_us: float) -> LiveRound:
    """Run one network of `engine`; `transactions` are (node index, raw, hash) in send order."""
    preset = get_preset(LIVE_PRESET)
    with tempfile.TemporaryDirectory(prefix="bench-engine-live-") as directory:
        members = write_network(preset, Path(directory), LIVE_BASE_PORT, "none",
                                execution=engine)
        (Path(directory) / "logs").mkdir()
        try:
            for member in members:
                start_node(member, Path(directory) / "logs")
            wait_ready(members)
            urls = [member.config.url for member in members]
            start_cpu, start = _network_cpu_s(members), time.monotonic()
            asyncio.run(_send_paced(urls, transactions, rate_per_s, start))
            with httpx.Client(timeout=30.0) as client:
                _wait_committed(client, urls[0], _last_of_each_sender(transactions))
                seconds = time.monotonic() - start
                cpu_s = _network_cpu_s(members) - start_cpu
                _check_receipts(client, urls[0], [h for _, _, h in transactions])
        finally:
            for member in members:
                stop_node(member)
    node_us = cpu_s * 1e6 / len(transactions) / len(members)
    return LiveRound(engine, len(transactions), seconds, node_us, recovery_us)


async def _send_paced(urls: Sequence[str], transactions: Sequence[tuple[int, bytes, bytes]],
                      rate_per_s: float, start: float) -> None:
    """Send every transaction at its slot of the offered rate, each node's share in its own
    task (each bureau's nonces in order), so one send's durability wait does not hold back
    the others'."""
    async def node_share(node: int, client: LeanClient) -> None:
        for position, (target, raw, _) in enumerate(transactions):
            if target != node:
                continue
            delay = start + position / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            reply = await client.rpc("/rpc", "eth_sendRawTransaction", ["0x" + raw.hex()])
            if "error" in reply:
                raise RuntimeError(f"eth_sendRawTransaction: {reply['error']}")

    clients = [LeanClient(url, 1) for url in urls]
    for client in clients:
        await client.start()
    try:
        await asyncio.gather(*(node_share(node, client) for node, client in enumerate(clients)))
    finally:
        for client in clients:
            client.close()


def _last_of_each_sender(transactions: Sequence[tuple[int, bytes, bytes]]) -> list[bytes]:
    """The hash of each bureau's last publish (each node's share is one bureau's, in nonce
    order)."""
    last: dict[int, bytes] = {}
    for node, _, transaction_hash in transactions:
        last[node] = transaction_hash
    return list(last.values())


def _wait_committed(client: httpx.Client, url: str, hashes: Sequence[bytes]) -> None:
    """Poll until every one of `hashes` has a receipt."""
    deadline = time.monotonic() + COMMIT_TIMEOUT_S
    pending = list(hashes)
    while pending and time.monotonic() < deadline:
        pending = [h for h in pending
                   if not _rpc(client, url, "eth_getTransactionReceipt", ["0x" + h.hex()])]
        if pending:
            time.sleep(POLL_INTERVAL_S)
    if pending:
        raise RuntimeError(f"{len(pending)} publishes not committed within {COMMIT_TIMEOUT_S} s")


def _check_receipts(client: httpx.Client, url: str, hashes: Sequence[bytes]) -> None:
    """Every publish committed and succeeded (RuntimeError naming how many did not)."""
    failed = 0
    for transaction_hash in hashes:
        receipt = _rpc(client, url, "eth_getTransactionReceipt", ["0x" + transaction_hash.hex()])
        if not isinstance(receipt, dict) or receipt.get("status") != "0x1":
            failed += 1
    if failed:
        raise RuntimeError(f"{failed} of {len(hashes)} publishes have no successful receipt")
