"""What the per-route latency histogram costs on the report hot path.

One node's app in this process (in-memory stores, no peers), a record of a Shanghai enterprise
published and a Hangzhou bank's grant committed. The same signed report request (fresh nonces,
signed before timing) goes through the app's ASGI callable twice over: with the `RouteMetrics`
middleware and with the same app built without it, in alternating rounds so that load on the
machine hits both alike. Prints the median per-request time of each and their ratio, and the
machine's load average (figures from a loaded machine say so).

    python -m benchmarks.route_metrics [--rounds 20] [--requests 200] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from benchmarks.machine import describe_machine, results_path
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.records import (
    ALL_KINDS_SCOPE,
    CreditRecord,
    RecordKind,
    encode_record,
    payload_hash,
    record_id_for,
)
from chain.storage import MemoryBlockStore
from chain.wallet import sign_digest, sign_legacy
from contracts import bindings
from nodes.api.app import create_app
from nodes.api.metrics import RouteMetrics
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.query.request_signing import sign_request
from nodes.runtime.asyncio_ports import process_node
from nodes.runtime.config import NodeConfig
from nodes.runtime.node import NodeRuntime

NODE_ID = "shanghai-1"
ENTERPRISE = "enterprise:shanghai:1"
QUERIER = "bank:hangzhou"


def _commit(runtime: NodeRuntime) -> None:
    ledger = runtime.ledger
    committed = ledger.append_block(ledger.build_block(int(time.time() * 1000), NODE_ID))
    for hook in runtime.commit_hooks:
        hook(committed)


def prepared_app(directory: Path) -> tuple[FastAPI, NodeRuntime]:
    """A node with one published record and the querier's grant, both committed."""
    preset = get_preset("local4")
    genesis = build_genesis(preset)
    ensure_certificates(preset, directory)
    config = NodeConfig(NODE_ID, preset.name, directory / NODE_ID, "127.0.0.1", 1)
    runtime = process_node(config, genesis, MemoryBlockStore(),
                           load_validator_set(preset, directory)).runtime
    app = create_app(runtime)
    enterprise = preset.enterprise(ENTERPRISE)
    record = CreditRecord(enterprise.credit_code, RecordKind.TAX, "2024", {"paid_cny": 1})
    digest = payload_hash(encode_record(record))
    bureau = preset.key("bureau:shanghai")
    raw = sign_legacy(bureau, preset.chain_id, 0, genesis.contracts.registry,
                      bindings.encode_publish(record_id_for(bureau.address, digest),
                                              enterprise.credit_code.to_bytes32(),
                                              int(record.kind), digest))
    runtime.record_store.save_payload(digest, encode_record(record))
    runtime.submit_transaction(raw)
    code = enterprise.credit_code.to_bytes32()
    bank = preset.key(QUERIER)
    expires_at = int(time.time()) + 3600
    signature = sign_digest(preset.key(enterprise.label), bindings.grant_digest(
        preset.chain_id, genesis.contracts.authorization, code, bank.address, ALL_KINDS_SCOPE,
        expires_at, 0))
    runtime.submit_transaction(sign_legacy(bank, preset.chain_id, 0,
                                           genesis.contracts.authorization,
                                           bindings.encode_grant(code, ALL_KINDS_SCOPE,
                                                                 expires_at, 0, signature.v,
                                                                 signature.r, signature.s)))
    _commit(runtime)
    return app, runtime


def without_route_metrics(runtime: NodeRuntime) -> FastAPI:
    """The same node's app built without the RouteMetrics middleware."""
    app = create_app(runtime)
    app.user_middleware = [item for item in app.user_middleware if item.cls is not RouteMetrics]
    return app


async def time_requests(app: Any, scopes: list[dict[str, Any]]) -> float:
    """Seconds per request, for these requests through the ASGI callable (each must be 200)."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for scope in scopes:
        await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    assert set(statuses) == {200}, f"reports answered {sorted(set(statuses))}"
    return elapsed / len(scopes)


def report_scopes(runtime: NodeRuntime, count: int) -> list[dict[str, Any]]:
    """`count` signed report requests, each with its own nonce."""
    preset = runtime.preset
    path = f"/v1/enterprises/{preset.enterprise(ENTERPRISE).credit_code.code}/report"
    scopes = []
    for _ in range(count):
        headers = sign_request(preset.key(QUERIER), preset.chain_id, NODE_ID, "GET", path,
                               int(time.time() * 1000))
        scopes.append({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                       "method": "GET", "scheme": "http", "path": path,
                       "raw_path": path.encode(), "query_string": b"", "root_path": "",
                       "headers": [(name.encode(), value.encode())
                                   for name, value in headers.items()],
                       "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)})
    return scopes


async def measure(rounds: int, requests: int) -> dict[str, Any]:
    """Alternating rounds with and without the middleware; medians and their ratio."""
    with tempfile.TemporaryDirectory() as directory:
        with_metrics, runtime = prepared_app(Path(directory))
        without = without_route_metrics(runtime)
        await time_requests(with_metrics, report_scopes(runtime, 20))  # warm both stacks
        await time_requests(without, report_scopes(runtime, 20))
        on: list[float] = []
        off: list[float] = []
        for index in range(rounds):
            pair = [(with_metrics, on), (without, off)]
            for app, figures in pair if index % 2 == 0 else reversed(pair):
                figures.append(await time_requests(app, report_scopes(runtime, requests)))
    on_us = statistics.median(on) * 1e6
    off_us = statistics.median(off) * 1e6
    return {"rounds": rounds, "requests_per_round": requests,
            "median_us_with_route_metrics": round(on_us, 1),
            "median_us_without": round(off_us, 1), "ratio": round(on_us / off_us, 3),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "machine": describe_machine()}


def main(argv: list[str] | None = None) -> int:
    """Run, print the table and write it to benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="2 rounds of 20 requests")
    options = parser.parse_args(argv)
    rounds, requests = (2, 20) if options.smoke else (options.rounds, options.requests)
    result = asyncio.run(measure(rounds, requests))
    table = (f"| with RouteMetrics (µs/report) | without (µs/report) | ratio | load average |\n"
             f"|---|---|---|---|\n| {result['median_us_with_route_metrics']} | "
             f"{result['median_us_without']} | {result['ratio']} | "
             f"{' '.join(map(str, result['load_average']))} |\n\n"
             f"Medians of {rounds} alternating rounds of {requests} signed reports each, "
             f"in process through the ASGI app. {result['machine']}\n")
    print(table)
    markdown, json_path = results_path("route-metrics", smoke=options.smoke)
    markdown.write_text("# Report hot path with and without per-route histograms\n\n" + table,
                        encoding="utf-8")
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
