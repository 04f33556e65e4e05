"""Locust users for a running yrdchain network: signed report queries, publishes, plain reads.

The run description comes from the file named by the environment variable `YRD_BENCH_RUN`
(written by `benchmarks.query`): the preset, the nodes (id, city, URL) and the grants of the
loaded data set (enterprise code, its city, the bank it authorized). Pick the users by class
name on the command line, e.g. `locust -f benchmarks/locustfile.py QueryUser` (the query
profile), `QueryUser PublisherUser` (mixed), `EnterpriseUser` or `StatusUser` (unsigned reads).

- `QueryUser` is a bank (users take the preset's banks in turn) sending signed report queries
  (`GET /v1/enterprises/{code}/report`, EIP-191 headers from `nodes.query.request_signing`) to the
  nodes of its own city in turn, for enterprises that authorized it. Each request is named
  `report <querier city>-><origin city>`, so Locust's statistics, CSV and HTML have one row per
  city pair.
- `PublisherUser` is a credit bureau publishing one signed record per request
  (`POST /v1/records`) to its home node; a process shares one nonce counter per bureau.
- `EnterpriseUser` reads `GET /v1/enterprises/{code}` (unsigned, one contract call) and
  `StatusUser` reads `GET /status` (trivial): the baselines of the signed route.

`YRD_BENCH_RATE_PER_USER` (requests per second per user; 0 = as fast as it can) paces query,
enterprise and status users; `YRD_BENCH_PUBLISH_RATE_PER_USER` paces publishers and
`YRD_BENCH_PUBLISHERS` fixes their number (0: Locust shares users out by weight).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, task

from chain.builder import TransactionSigner, build_publish
from chain.enterprise import parse_credit_code
from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from nodes.query.request_signing import sign_request

RUN_ENVIRONMENT = "YRD_BENCH_RUN"
RATE_ENVIRONMENT = "YRD_BENCH_RATE_PER_USER"
PUBLISH_RATE_ENVIRONMENT = "YRD_BENCH_PUBLISH_RATE_PER_USER"
PUBLISHERS_ENVIRONMENT = "YRD_BENCH_PUBLISHERS"
WORKERS_ENVIRONMENT = "YRD_BENCH_WORKERS"  # Locust worker processes (0 or unset: one process)
DEFAULT_PUBLISH_RATE_PER_USER = 5.0
PUBLISH_GAS = 2_000_000


def load_run() -> dict[str, Any]:
    """The run description, or an empty one when Locust only imports the file."""
    path = os.environ.get(RUN_ENVIRONMENT)
    if not path:
        return {"preset": "local4", "chain_id": 0, "nodes": [], "grants": [], "registry": ""}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


RUN = load_run()
PRESET = get_preset(RUN["preset"])
CHAIN_ID = int(RUN["chain_id"])
NODES_BY_CITY: dict[str, list[tuple[str, str]]] = {}
for _node in RUN["nodes"]:
    NODES_BY_CITY.setdefault(_node["city"], []).append((_node["node_id"], _node["url"]))
GRANTS_BY_BANK: dict[str, list[tuple[str, str]]] = {}
for _code, _origin, _bank in RUN["grants"]:
    GRANTS_BY_BANK.setdefault(_bank, []).append((_code, _origin))
BANKS = sorted(GRANTS_BY_BANK)
CITIES = sorted(NODES_BY_CITY)
HOST = RUN["nodes"][0]["url"] if RUN["nodes"] else "http://127.0.0.1:8600"


def _rate_wait(variable: str, default: float) -> Any:
    rate = float(os.environ.get(variable, default))
    return constant_throughput(rate) if rate > 0 else constant(0)


def _worker_index(user: FastHttpUser) -> int:
    index = getattr(user.environment.runner, "worker_index", -1)
    return max(0, int(index))


_assignments = itertools.count()
_publisher_turns = itertools.count()


class QueryUser(FastHttpUser):
    """A bank sending signed report queries to its own city's nodes."""

    host = HOST
    wait_time = _rate_wait(RATE_ENVIRONMENT, 0.0)

    def on_start(self) -> None:
        """Take the next bank (offset by the worker's index) and its granted enterprises."""
        turn = next(_assignments) + _worker_index(self)
        self.bank = BANKS[turn % len(BANKS)]
        self.city = self.bank.split(":", 1)[1]
        self.key = PRESET.key(self.bank)
        self.nodes = itertools.cycle(NODES_BY_CITY[self.city])
        self.enterprises = GRANTS_BY_BANK[self.bank]
        self.random = random.Random(turn)

    @task
    def report(self) -> None:
        """One signed report query for a random enterprise that authorized this bank."""
        code, origin = self.enterprises[self.random.randrange(len(self.enterprises))]
        node_id, url = next(self.nodes)
        path = f"/v1/enterprises/{code}/report"
        headers = sign_request(self.key, CHAIN_ID, node_id, "GET", path,
                               int(time.time() * 1000))
        with self.client.get(url + path, headers=headers, name=f"report {self.city}->{origin}",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {(response.text or '')[:120]}")


class EnterpriseUser(FastHttpUser):
    """Unsigned enterprise summaries (one Authorization call): a baseline read."""

    host = HOST
    wait_time = _rate_wait(RATE_ENVIRONMENT, 0.0)

    def on_start(self) -> None:
        """Read from every node in turn."""
        turn = next(_assignments) + _worker_index(self)
        self.random = random.Random(turn)
        self.nodes = itertools.cycle([node for city in CITIES for node in NODES_BY_CITY[city]])
        self.codes = [code for code, _, _ in RUN["grants"]]

    @task
    def enterprise(self) -> None:
        """GET /v1/enterprises/{code}."""
        _, url = next(self.nodes)
        code = self.codes[self.random.randrange(len(self.codes))]
        self.client.get(f"{url}/v1/enterprises/{code}", name="enterprise (unsigned)")


class StatusUser(FastHttpUser):
    """GET /status: the cheapest route, what the HTTP stack alone costs."""

    host = HOST
    wait_time = _rate_wait(RATE_ENVIRONMENT, 0.0)

    def on_start(self) -> None:
        """Read from every node in turn."""
        self.nodes = itertools.cycle([node for city in CITIES for node in NODES_BY_CITY[city]])

    @task
    def status(self) -> None:
        """GET /status."""
        _, url = next(self.nodes)
        self.client.get(f"{url}/status", name="status (trivial)")


class _BureauNonces:
    """Next nonce per bureau in this process (publisher users of one bureau share it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next: dict[str, int] = {}

    def take(self, bureau: str, fetch: Any) -> int:
        with self.lock:
            if bureau not in self.next:
                self.next[bureau] = fetch()
            nonce = self.next[bureau]
            self.next[bureau] = nonce + 1
            return nonce

    def forget(self, bureau: str) -> None:
        with self.lock:
            self.next.pop(bureau, None)


_nonces = _BureauNonces()


class PublisherUser(FastHttpUser):
    """A credit bureau publishing signed single records to its home node."""

    host = HOST
    wait_time = _rate_wait(PUBLISH_RATE_ENVIRONMENT, DEFAULT_PUBLISH_RATE_PER_USER)
    fixed_count = int(os.environ.get(PUBLISHERS_ENVIRONMENT, "0"))

    def on_start(self) -> None:
        """Take a bureau: worker i of n takes bureaus i, i + n, ...: workers share none."""
        workers = max(1, int(os.environ.get(WORKERS_ENVIRONMENT, "0") or 0))
        turn = _worker_index(self) + next(_publisher_turns) * workers
        self.city = CITIES[turn % len(CITIES)]
        self.bureau = f"bureau:{self.city}"
        self.key = PRESET.key(self.bureau)
        self.node_id, self.url = NODES_BY_CITY[self.city][0]
        self.registry = bytes.fromhex(RUN["registry"][2:])
        self.codes = [code for code, origin, _ in RUN["grants"] if origin == self.city]
        self.random = random.Random(turn)

    def _pending_nonce(self) -> int:
        response = self.client.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": ["0x" + self.key.address.hex(), "pending"]}, name="rpc nonce")
        return int(response.json()["result"], 16)

    @task
    def publish(self) -> None:
        """One signed publish with its payload."""
        code = parse_credit_code(self.codes[self.random.randrange(len(self.codes))])
        record = CreditRecord(code, RecordKind.UTILITIES, "2025-Q1", {
            "reading": self.random.randrange(1 << 30), "at_ms": int(time.time() * 1000)})
        nonce = _nonces.take(self.bureau, self._pending_nonce)
        raw = build_publish(TransactionSigner(self.key, CHAIN_ID, gas=PUBLISH_GAS), nonce,
                            self.registry, record, salt=nonce).raw
        with self.client.post(f"{self.url}/v1/records", json={
                "raw": "0x" + raw.hex(), "payload": record.to_json_object()},
                name=f"publish {self.city}", catch_response=True) as response:
            if response.status_code != 202:
                _nonces.forget(self.bureau)
                response.failure(f"{response.status_code}: {(response.text or '')[:120]}")
