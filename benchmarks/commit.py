"""Submit-to-commit throughput and latency of a real network of node processes.

`python -m benchmarks.commit [--seconds 60] [--smoke]` (`make bench-commit`) starts each
configuration — local4 and yrd-2021, with `--latency none` and `--latency regional` — on fresh
data directories, offers signed publish transactions at a fixed rate spread over the nodes (each
bureau sends to its own city's node), and watches committed blocks on one node: a transaction's
latency is from the moment its POST returned to the moment the watcher saw its block committed
(the watcher polls every 50 ms, so latencies carry up to that much error). It prints a table and
writes it under benchmarks/results/.

`--target URL…` measures a network that is already running instead (`yrdchain up`, Compose,
Kubernetes): the preset and nodes come from each URL's `/status`, the bureaus' nonces from the
chain, and the watcher starts at the current height; nothing is started or stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from benchmarks.machine import describe_machine, results_path
from chain.builder import TransactionSigner, build_publish
from chain.crypto import keccak
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from nodes.cluster.running import RunningNetwork, attach_network, start_network

POLL_INTERVAL_S = 0.05
DRAIN_TIMEOUT_S = 30.0
CONCURRENT_REQUESTS = 32


@dataclass(frozen=True)
class CommitFigures:
    """One configuration's figures."""

    preset: str
    latency: str
    offered_tx_per_s: float
    seconds: float
    submitted: int
    refused: int
    committed: int
    throughput_tx_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    blocks: int


def _transactions(preset_name: str, count: int, first_nonces: dict[str, int] | None = None,
                  tag: str = "") -> list[tuple[str, bytes, str]]:
    """(city, raw, payload) publishes, round robin over the preset's cities, nonces in order."""
    preset = get_preset(preset_name)
    genesis = build_genesis(preset)
    cities = [city.value for city in preset.cities]
    nonces = dict.fromkeys(cities, 0) | (first_nonces or {})
    transactions = []
    for number in range(count):
        city = cities[number % len(cities)]
        key = preset.key(f"bureau:{city}")
        enterprise = preset.enterprises[number % len(preset.enterprises)]
        record = CreditRecord(enterprise.credit_code, RecordKind.TAX, "2024",
                              {"n": number, "run": tag} if tag else {"n": number})
        signed = build_publish(TransactionSigner(key, preset.chain_id), nonces[city],
                               genesis.contracts.registry, record)
        nonces[city] += 1
        transactions.append((city, signed.raw, signed.payload.decode("utf-8")))
    return transactions


async def _watch(url: str, seen: dict[bytes, float], stop: asyncio.Event,
                 counters: dict[str, int], first_height: int = 1) -> None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        next_height = first_height
        while not stop.is_set():
            try:
                response = await client.get(f"{url}/v1/blocks/{next_height}")
                block = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                block = None
            if block is None:
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            now = time.monotonic()
            next_height = int(block["height"]) + 1
            counters["blocks"] += 1
            for transaction_hash in block["transactions"]:
                seen.setdefault(bytes.fromhex(transaction_hash[2:]), now)


async def _offer(urls: dict[str, str], transactions: list[tuple[str, bytes, str]], rate: float,
                 submitted: dict[bytes, float], counters: dict[str, int]) -> None:
    semaphore = asyncio.Semaphore(CONCURRENT_REQUESTS)
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=30.0) as client:
        async def send(city: str, raw: bytes, payload: str) -> None:
            async with semaphore:
                try:
                    response = await client.post(f"{urls[city]}/v1/transactions",
                                                 json={"raw": "0x" + raw.hex(),
                                                       "payload": payload})
                except httpx.HTTPError:
                    counters["refused"] += 1
                    return
            if response.status_code == 202:
                submitted[keccak(raw)] = time.monotonic()
            else:
                counters["refused"] += 1
                if counters["refused"] <= 3:
                    print(f"refused: {response.status_code} {response.text[:200]}", flush=True)

        tasks = []
        for number, (city, raw, payload) in enumerate(transactions):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(city, raw, payload)))
        await asyncio.gather(*tasks)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _run_load(urls: dict[str, str], watch_url: str,
                    transactions: list[tuple[str, bytes, str]],
                    rate: float, first_height: int = 1) -> tuple[
                        dict[bytes, float], dict[bytes, float], dict[str, int], float]:
    submitted: dict[bytes, float] = {}
    seen: dict[bytes, float] = {}
    counters = {"refused": 0, "blocks": 0}
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(watch_url, seen, stop, counters, first_height))
    began = time.monotonic()
    await _offer(urls, transactions, rate, submitted, counters)
    offered_for = time.monotonic() - began
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline and not all(h in seen for h in submitted):
        await asyncio.sleep(0.1)
    stop.set()
    await watcher
    return submitted, seen, counters, offered_for


def _offer_and_watch(network: RunningNetwork, seconds: float, rate: float) -> tuple[
        dict[bytes, float], dict[bytes, float], dict[str, int], float]:
    """Sign the load for the network's current nonces and height, offer it, watch commits."""
    preset = network.preset
    urls = network.home_urls()
    first_nonces = {}
    for city, url in urls.items():
        address = "0x" + preset.key(f"bureau:{city}").address.hex()
        answer = network.client.post(f"{url}/rpc", json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": [address, "pending"]}).json()
        first_nonces[city] = int(answer["result"], 16)
    watch_url = network.nodes[0].url
    height = int(network.status(network.nodes[0].node_id)["height"])
    transactions = _transactions(preset.name, int(seconds * rate), first_nonces,
                                 tag=f"{time.time_ns()}" if not network.started_here else "")
    return asyncio.run(_run_load(urls, watch_url, transactions, rate, height + 1))


def measure(preset_name: str, latency: str, seconds: float, rate: float,
            target: list[str] | None = None) -> CommitFigures:
    """Start a fresh network (or attach to `target`), offer load, and measure."""
    if target:
        with attach_network(target) as network:
            preset_name, latency = network.preset.name, "target"
            submitted, seen, counters, offered_for = _offer_and_watch(network, seconds, rate)
    else:
        with tempfile.TemporaryDirectory(prefix=f"bench-{preset_name}-") as directory, \
                start_network(get_preset(preset_name), Path(directory),
                              latency=latency) as network:
            submitted, seen, counters, offered_for = _offer_and_watch(network, seconds, rate)
    committed = [h for h in submitted if h in seen]
    latencies = [(seen[h] - submitted[h]) * 1000 for h in committed]
    first = min(submitted.values(), default=0.0)
    last_commit = max((seen[h] for h in committed), default=first)
    span = max(last_commit - first, 1e-9)
    return CommitFigures(
        preset=preset_name, latency=latency, offered_tx_per_s=rate,
        seconds=round(offered_for, 1), submitted=len(submitted), refused=counters["refused"],
        committed=len(committed), throughput_tx_per_s=round(len(committed) / span, 1),
        latency_p50_ms=round(statistics.median(latencies), 1) if latencies else float("nan"),
        latency_p99_ms=round(_percentile(latencies, 0.99), 1), blocks=counters["blocks"],
    )


CONFIGURATIONS = (("local4", "none", 40.0), ("local4", "regional", 40.0),
                  ("yrd-2021", "none", 12.0), ("yrd-2021", "regional", 12.0))


def main(argv: list[str] | None = None) -> int:
    """Run the commit benchmark and write its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--smoke", action="store_true", help="local4 only, a few seconds")
    parser.add_argument("--only", help="preset:latency, e.g. local4:none")
    parser.add_argument("--target", nargs="+", metavar="URL",
                        help="measure a running network (every node's URL) instead of "
                             "starting one")
    parser.add_argument("--rate", type=float, default=None,
                        help="offered transactions per second (default: each configuration's "
                             "own; 20 with --target)")
    arguments = parser.parse_args(argv)
    configurations = [("local4", "none", 20.0)] if arguments.smoke else [
        c for c in CONFIGURATIONS if not arguments.only or f"{c[0]}:{c[1]}" == arguments.only]
    if arguments.rate is not None:
        configurations = [(name, latency, arguments.rate) for name, latency, _ in configurations]
    if arguments.target:
        configurations = [("target", "target", arguments.rate or 20.0)]
    seconds = 3.0 if arguments.smoke else arguments.seconds
    figures = []
    for preset_name, latency, rate in configurations:
        figure = measure(preset_name, latency, seconds, rate, arguments.target)
        print(json.dumps(asdict(figure)), flush=True)
        figures.append(figure)
    table = ["| preset | latency | offered tx/s | committed | throughput tx/s | p50 ms | "
             "p99 ms | blocks |", "|---|---|---|---|---|---|---|---|"]
    table += [f"| {f.preset} | {f.latency} | {f.offered_tx_per_s:.0f} | {f.committed}/"
              f"{f.submitted} | {f.throughput_tx_per_s} | {f.latency_p50_ms} | "
              f"{f.latency_p99_ms} | {f.blocks} |" for f in figures]
    machine = describe_machine()
    text = (f"# Commit benchmark\n\n{machine}\n\nCommand: `python -m benchmarks.commit "
            f"{' '.join(sys.argv[1:] if argv is None else argv)}`\n\n"
            + "\n".join(table) + "\n")
    print(text)
    markdown, data = results_path("commit-target" if arguments.target else "commit",
                                  smoke=arguments.smoke)
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
