"""The writer's CPU per report a read worker answers: the serial part of a node with workers.

`python -m benchmarks.writer_cost [--requests 20000] [--in-flight 32] [--port-base 23600]`

A node with read workers (ADR 0021) answers each worker's report with two requests on its
writer link: `ADMIT` (the nonce and the rate limit) and `AUDIT` (the audit entry, answered after
its group fsync). However many cores the workers get, the one writer process does this work
for every report, so `1 / (CPU per pair)` bounds a node's report rate. This benchmark starts
the smoke data set's local4 network with one read worker at shanghai-1, connects to its writer
link as a worker does, sends `--requests` ADMIT + AUDIT pairs (`--in-flight` at a time, fresh
nonces, the bank's address as the signer), and prints the writer process's own CPU per pair
(user + system, its threads included, its children excluded), net of what it burns idle over
the same time. Figures go to stdout and `benchmarks/results/writer-cost-<date>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import secrets
import time
from pathlib import Path

import psutil

from benchmarks.dataset import CACHE_DIRECTORY, SIZES, ensure_snapshot
from benchmarks.machine import describe_machine, results_path
from benchmarks.query import live_network
from benchmarks.wrk_rounds import NODE, PRESET, wait_for_workers
from chain.presets import get_preset
from nodes.api.workers import encode_admission
from nodes.runtime.writer_link import WriterLink, WriterMethod, socket_path

IDLE_SECONDS = 3.0


def _own_cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def drive(link_path: Path, requests: int, in_flight: int, signer: bytes) -> float:
    """Send `requests` ADMIT + AUDIT pairs; the wall seconds they took."""
    link = WriterLink(link_path)
    await link.connect()
    audit = json.dumps({"time_ms": 0, "enterprise": "91310115000010014X", "querier": "0x" +
                        signer.hex(), "querier_name": "bench", "querier_city": "shanghai",
                        "request_hash": "0x" + "00" * 32, "records": 1}).encode()
    left = requests

    async def one_by_one() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            now_ms = int(time.time() * 1000)
            await link.request(WriterMethod.ADMIT, encode_admission(
                signer, secrets.token_hex(12), now_ms))
            await link.request(WriterMethod.AUDIT, audit.replace(b'"time_ms": 0', (
                f'"time_ms": {now_ms}').encode()))

    started = time.perf_counter()
    await asyncio.gather(*(one_by_one() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    await link.close()
    return elapsed


def run(requests: int, in_flight: int, port_base: int) -> dict[str, object]:
    """Start the network, measure, return the figures."""
    snapshot = ensure_snapshot(PRESET, SIZES["smoke"], 1, CACHE_DIRECTORY, progress=False)
    signer = get_preset(PRESET).key("bank:shanghai").address
    load_start = os.getloadavg()
    with live_network(snapshot, base_port=port_base, read_workers={NODE: 1}) as network:
        member = next(m for m in network.members if m.config.node_id == NODE)
        assert member.process is not None
        wait_for_workers(member.config.url, 1)
        writer = psutil.Process(member.process.pid)
        idle_before = _own_cpu_s(writer)
        time.sleep(IDLE_SECONDS)
        idle_per_s = (_own_cpu_s(writer) - idle_before) / IDLE_SECONDS
        before = _own_cpu_s(writer)
        elapsed = asyncio.run(drive(socket_path(member.config.data_dir), requests, in_flight,
                                    signer))
        used = _own_cpu_s(writer) - before
    net_us = 1e6 * (used - idle_per_s * elapsed) / requests
    return {"benchmark": "writer-cost", "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "machine": describe_machine(), "load_average_start": load_start,
            "load_average_end": os.getloadavg(), "requests": requests, "in_flight": in_flight,
            "pairs_per_s": round(requests / elapsed, 1),
            "writer_cpu_us_per_pair": round(1e6 * used / requests, 1),
            "writer_idle_cpu_per_s": round(idle_per_s, 4),
            "writer_cpu_us_per_pair_net_of_idle": round(net_us, 1),
            "bound_reports_per_s": round(1e6 / net_us) if net_us > 0 else None}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.writer_cost",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--port-base", type=int, default=23_600)
    arguments = parser.parse_args(argv)
    report = run(arguments.requests, arguments.in_flight, arguments.port_base)
    for key, value in report.items():
        print(f"{key}: {value}")
    _, data = results_path("writer-cost", smoke=arguments.requests < 10_000)
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
