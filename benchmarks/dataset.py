"""A seeded data set of enterprises, records and grants, loaded through signed transactions.

`python -m benchmarks.dataset --preset local4 --size default --seed 1` builds the data set once
and keeps it as a snapshot of the nodes' data directories; the query benchmark restores a copy
of the snapshot for each run (the LMDB stores reopen as they were). What a data set holds:

- `enterprises` enterprises with valid Unified Social Credit Codes
  (`chain.enterprise.make_credit_code`), spread evenly over the preset's cities;
- `records` credit records, `records / enterprises` per enterprise, published by the credit
  bureau of the enterprise's city through `CreditRegistry.publish_batch` transactions of 64
  records (POST /v1/records with the 64 payloads, which stay off chain at that city's nodes);
- for `granted` of the enterprises: the enterprise's key registered on chain
  (`Authorization.register_enterprise`, sent by its city's bureau) and one grant
  (`Authorization.grant`, EIP-712 signed by the enterprise's key, submitted by the bank it
  authorizes), the banks taken round robin so every (bank city, enterprise city) pair occurs.

Every transaction is signed by the institution's development key and admitted, ordered,
executed and committed by the running network like any other. Each sender keeps at most
`WINDOW_TRANSACTIONS` uncommitted transactions in flight (the mempool takes 1,024 per sender),
and all senders together at most `IN_FLIGHT_UNITS` uncommitted records (a registration or a
grant counts as one): the node sizes proposals by transaction count, not by work, and a
proposal of 250 batch transactions (16,000 records) takes minutes to execute, far past the
round timeout and round after round of re-execution, so the loader keeps at most about one
proposal's worth (10 batches, the node's smallest adaptive proposal) uncommitted.
The load rate (records, transactions and blocks per second of wall time) goes into the
snapshot's manifest and into the query benchmark's report.

`--target URL…` loads the data set into a network that is already running (`yrdchain up`,
Compose, Kubernetes; the preset and nodes come from each URL's `/status`) and writes the
Locust run description instead of a snapshot; `--into TEMPLATE` (`http://{node_id}:8600`) is
the same with every node of the preset named by the template.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.machine import describe_machine
from chain.builder import (
    TransactionSigner,
    build_grant,
    build_publish_batch,
    build_register_enterprise,
    sign_consent,
)
from chain.crypto import derive_private_key
from chain.enterprise import EnterpriseId, make_credit_code
from chain.genesis import build_genesis
from chain.presets import Preset, get_preset
from chain.records import (
    ALL_KINDS_SCOPE,
    CreditRecord,
    RecordKind,
)
from contracts import bindings
from nodes.cluster.network import NetworkProcess, find_free_base_port, write_network
from nodes.cluster.running import attach_network, start_network

BATCH_RECORDS = bindings.PUBLISH_BATCH_LIMIT  # 64 records per publish_batch transaction
BATCH_GAS = 20_000_000  # a 64-record batch uses about 9 M gas; the block limit is 300 M
WINDOW_TRANSACTIONS = 512  # uncommitted transactions per sender (mempool: 1,024 per sender)
IN_FLIGHT_UNITS = 640  # uncommitted work over all senders, in records (a single call is 1)
POLL_INTERVAL_S = 0.25
SERIAL_BASE = 20_000_000  # organisation-code serials of benchmark enterprises (presets use less)
GRANT_EXPIRES_AT_S = 4_102_444_800  # 2100-01-01: snapshots stay valid for years
LOAD_TIMEOUT_S = 24 * 3600.0
CACHE_DIRECTORY = Path(os.environ.get("YRD_BENCH_CACHE", Path.home() / ".cache" / "yrdchain"
                                      / "bench-datasets"))
MANIFEST_NAME = "manifest.json"
NETWORK_DIRECTORY_NAME = "network"


@dataclass(frozen=True, slots=True)
class DatasetSize:
    """How big a data set is."""

    name: str
    enterprises: int
    records: int
    granted: int


SIZES = {
    "smoke": DatasetSize("smoke", enterprises=32, records=256, granted=32),
    "small": DatasetSize("small", enterprises=500, records=5_000, granted=500),
    "default": DatasetSize("default", enterprises=1_000, records=5_000, granted=1_000),
    "full": DatasetSize("full", enterprises=100_000, records=1_000_000, granted=100_000),
}


@dataclass(frozen=True, slots=True)
class PlannedEnterprise:
    """One enterprise of the data set: its code, records, and the bank it authorizes (if any)."""

    code: EnterpriseId
    records: int
    bank: str | None  # the label of the bank it grants to, e.g. "bank:hangzhou"


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """How fast the data set went in."""

    seconds: float
    transactions: int
    records: int
    registrations: int
    grants: int
    blocks: int
    records_per_s: float
    transactions_per_s: float


def enterprise_key_seed(seed: int, code: str) -> bytes:
    """The seed of a benchmark enterprise's development key."""
    return f"yrdchain-bench:{seed}:enterprise:{code}".encode()


def plan_enterprises(preset: Preset, size: DatasetSize, seed: int) -> list[PlannedEnterprise]:
    """The enterprises of a data set, in a seeded order (pure)."""
    random_source = random.Random(seed)
    cities = preset.cities
    banks = [f"bank:{city.value}" for city in cities]
    per_enterprise, extra = divmod(size.records, size.enterprises)
    granted = set(random_source.sample(range(size.enterprises), size.granted))
    planned = []
    for index in range(size.enterprises):
        city = cities[index % len(cities)]
        code = make_credit_code(city, SERIAL_BASE + index // len(cities))
        bank = banks[(index // len(cities) + index) % len(banks)] if index in granted else None
        planned.append(PlannedEnterprise(code, per_enterprise + (index < extra), bank))
    return planned


def record_of(enterprise: EnterpriseId, number: int, random_source: random.Random
              ) -> CreditRecord:
    """The `number`-th record of an enterprise, with seeded content."""
    kind = RecordKind(number % len(RecordKind))
    return CreditRecord(enterprise, kind, f"{2020 + number // 4 % 5}-Q{number % 4 + 1}", {
        "sequence": number, "amount_cny": random_source.randrange(10_000, 50_000_000),
        "source": f"{enterprise.city.value} bureau", "overdue": random_source.random() < 0.05})


Submission = tuple[str, dict[str, Any], int]  # path, JSON body, work units (records)


def bureau_submissions(preset: Preset, chain_id: int, registry: bytes, authorization: bytes,
                       city: str, enterprises: list[PlannedEnterprise], seed: int,
                       first_nonce: int) -> tuple[int, Iterator[Submission]]:
    """(registrations, signed requests) of one city's bureau: its registrations, then batches."""
    key = preset.key(f"bureau:{city}")
    registered = [planned for planned in enterprises if planned.bank is not None]

    def generate() -> Iterator[Submission]:
        nonce = first_nonce
        for planned in registered:
            enterprise_key = derive_private_key(enterprise_key_seed(seed, planned.code.code))
            raw = build_register_enterprise(TransactionSigner(key, chain_id), nonce,
                                            authorization, planned.code,
                                            enterprise_key.address)
            nonce += 1
            yield "/v1/transactions", {"raw": "0x" + raw.hex()}, 1
        random_source = random.Random(f"{seed}:{city}")
        records: list[CreditRecord] = []
        for planned in enterprises:
            for number in range(planned.records):
                records.append(record_of(planned.code, number, random_source))
                if len(records) == BATCH_RECORDS:
                    yield _batch(key, chain_id, nonce, registry, records)
                    nonce += 1
                    records = []
        if records:
            yield _batch(key, chain_id, nonce, registry, records)

    return len(registered), generate()


def _batch(key: Any, chain_id: int, nonce: int, registry: bytes,
           records: list[CreditRecord]) -> Submission:
    signed = build_publish_batch(TransactionSigner(key, chain_id, gas=BATCH_GAS), nonce,
                                 registry, records)
    payloads = [record.to_json_object() for record in records]
    return "/v1/records", {"raw": "0x" + signed.raw.hex(), "payloads": payloads}, len(records)


def bank_submissions(preset: Preset, chain_id: int, authorization: bytes, bank: str,
                     enterprises: list[PlannedEnterprise], seed: int,
                     first_nonce: int) -> Iterator[Submission]:
    """The grants a bank submits: one per enterprise that authorizes it (grant nonce 0)."""
    key = preset.key(bank)
    nonce = first_nonce
    for planned in enterprises:
        if planned.bank != bank:
            continue
        enterprise_key = derive_private_key(enterprise_key_seed(seed, planned.code.code))
        consent = sign_consent(enterprise_key, chain_id, authorization, planned.code,
                               key.address, ALL_KINDS_SCOPE, GRANT_EXPIRES_AT_S, 0)
        raw = build_grant(TransactionSigner(key, chain_id), nonce, authorization, consent)
        nonce += 1
        yield "/v1/grants", {"raw": "0x" + raw.hex()}, 1


class WorkBudget:
    """Uncommitted work (in records) over every sender, bounded by `IN_FLIGHT_UNITS`."""

    def __init__(self, limit: int = IN_FLIGHT_UNITS) -> None:
        self.limit = limit
        self.in_flight = 0

    def fits(self, units: int) -> bool:
        """Whether `units` more may be sent now (one submission always fits an idle budget)."""
        return self.in_flight == 0 or self.in_flight + units <= self.limit


class SenderStream:
    """One institution's signed requests to its home node, at most a window ahead of commits."""

    def __init__(self, client: httpx.AsyncClient, url: str, address: bytes,
                 submissions: Iterator[Submission], first_nonce: int,
                 budget: WorkBudget) -> None:
        self.client = client
        self.url = url
        self.address = "0x" + address.hex()
        self.submissions = submissions
        self.next_nonce = first_nonce
        self.committed = first_nonce
        self.budget = budget
        self.pending: deque[tuple[int, int]] = deque()  # (nonce, units) sent, not committed

    async def committed_nonce(self) -> int:
        """The sender's committed transaction count on its home node."""
        response = await self.client.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": [self.address, "latest"]})
        self.committed = int(response.json()["result"], 16)
        while self.pending and self.pending[0][0] < self.committed:
            self.budget.in_flight -= self.pending.popleft()[1]
        return self.committed

    async def run(self) -> int:
        """Send every submission; return how many were sent."""
        sent = 0
        for path, document, units in self.submissions:
            while (self.next_nonce - self.committed >= WINDOW_TRANSACTIONS
                   or not self.budget.fits(units)):
                await asyncio.sleep(POLL_INTERVAL_S)
                await self.committed_nonce()
            self.budget.in_flight += units
            self.pending.append((self.next_nonce, units))
            response = await self.client.post(f"{self.url}{path}", json=document)
            if response.status_code != 202:
                raise RuntimeError(f"{self.url}{path} refused nonce {self.next_nonce} of "
                                   f"{self.address}: {response.status_code} "
                                   f"{response.text[:300]}")
            self.next_nonce += 1
            sent += 1
        return sent

    async def wait_committed(self, nonce: int, deadline: float) -> None:
        """Wait until the sender's committed count reaches `nonce`."""
        while await self.committed_nonce() < nonce:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.address}: {self.committed} committed, {nonce} sent")
            await asyncio.sleep(POLL_INTERVAL_S)


def home_urls(preset: Preset, nodes: dict[str, str]) -> dict[str, str]:
    """The first node of each city: where that city's institutions send."""
    urls: dict[str, str] = {}
    for node_id, url in nodes.items():
        urls.setdefault(preset.node(node_id).city.value, url)
    return urls


async def load(preset: Preset, nodes: dict[str, str], planned: list[PlannedEnterprise],
               seed: int, progress: bool = True) -> LoadFigures:
    """Submit the whole data set to a running network and wait until it is committed."""
    genesis = build_genesis(preset)
    chain_id, contracts = preset.chain_id, genesis.contracts
    urls = home_urls(preset, nodes)
    watch_url = next(iter(nodes.values()))
    began = time.monotonic()
    deadline = began + LOAD_TIMEOUT_S
    async with httpx.AsyncClient(timeout=120.0) as client:
        start_height = await _height(client, watch_url)
        budget = WorkBudget()
        bureaus: list[tuple[SenderStream, int]] = []
        for city in urls:
            mine = [p for p in planned if p.code.city.value == city]
            address = preset.key(f"bureau:{city}").address
            stream = SenderStream(client, urls[city], address, iter(()), 0, budget)
            first = await stream.committed_nonce()
            registrations, submissions = bureau_submissions(
                preset, chain_id, contracts.registry, contracts.authorization, city, mine, seed,
                first)
            stream.submissions, stream.next_nonce = submissions, first
            bureaus.append((stream, first + registrations))

        async def grants() -> int:
            for stream, registered in bureaus:
                await stream.wait_committed(registered, deadline)
            banks = []
            for city in urls:
                address = preset.key(f"bank:{city}").address
                stream = SenderStream(client, urls[city], address, iter(()), 0, budget)
                first = await stream.committed_nonce()
                stream.submissions = bank_submissions(preset, chain_id,
                                                      contracts.authorization, f"bank:{city}",
                                                      planned, seed, first)
                stream.next_nonce = first
                banks.append(stream)
            counts = await asyncio.gather(*(stream.run() for stream in banks))
            for stream in banks:
                await stream.wait_committed(stream.next_nonce, deadline)
            return sum(counts)

        async def report() -> None:
            while progress:
                await asyncio.sleep(10.0)
                height = await _height(client, watch_url)
                sent = sum(stream.next_nonce for stream, _ in bureaus)
                committed = sum(stream.committed for stream, _ in bureaus)
                print(f"load: {time.monotonic() - began:6.0f} s, height {height}, bureau "
                      f"transactions sent {sent}, committed {committed}", flush=True)

        reporter = asyncio.create_task(report())
        granting = asyncio.create_task(grants())
        sent_by_bureaus = sum(await asyncio.gather(*(stream.run() for stream, _ in bureaus)))
        for stream, _ in bureaus:
            await stream.wait_committed(stream.next_nonce, deadline)
        granted = await granting
        reporter.cancel()
        seconds = time.monotonic() - began
        blocks = await _height(client, watch_url) - start_height
        await verify(client, watch_url, contracts.registry, contracts.authorization,
                     preset, planned, seed)
    records = sum(p.records for p in planned)
    registrations = sum(p.bank is not None for p in planned)
    transactions = sent_by_bureaus + granted
    return LoadFigures(round(seconds, 1), transactions, records, registrations, granted, blocks,
                       round(records / seconds, 1), round(transactions / seconds, 1))


async def _height(client: httpx.AsyncClient, url: str) -> int:
    return int((await client.get(f"{url}/status")).json()["height"])


async def _call(client: httpx.AsyncClient, url: str, to: bytes, data: bytes) -> bytes:
    response = await client.post(f"{url}/rpc", json={
        "jsonrpc": "2.0", "id": 1, "method": "eth_call",
        "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, "latest"]})
    return bytes.fromhex(response.json()["result"][2:])


async def verify(client: httpx.AsyncClient, url: str, registry: bytes, authorization: bytes,
                 preset: Preset, planned: list[PlannedEnterprise], seed: int) -> None:
    """Check a seeded sample on chain: record counts and grants; RuntimeError if one is off."""
    sample = random.Random(seed).sample(planned, min(40, len(planned)))
    for item in sample:
        enterprise = item.code.to_bytes32()
        count = bindings.decode_uint(await _call(client, url, registry,
                                                 bindings.encode_record_count(enterprise)))
        if count != item.records:
            raise RuntimeError(f"{item.code.code}: {count} records on chain, {item.records} "
                               "published (a transaction reverted?)")
        if item.bank is not None:
            grant = bindings.decode_grant(await _call(
                client, url, authorization,
                bindings.encode_grant_of(enterprise, preset.key(item.bank).address)))
            if grant.granted_at == 0:
                raise RuntimeError(f"{item.code.code}: no grant to {item.bank} on chain")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A built data set: where its data directories are and what it holds."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def network_directory(self) -> Path:
        """The copied data directories of every node (plus certificates)."""
        return self.directory / NETWORK_DIRECTORY_NAME


def snapshot_directory(preset_name: str, size: DatasetSize, seed: int,
                       cache: Path = CACHE_DIRECTORY) -> Path:
    """Where the snapshot of (preset, size, seed) is kept (the counts are in the name).

    The name ends with the first bytes of the genesis block's hash: a snapshot belongs to one
    chain (preset, contracts, execution engine), and a node refuses a data directory of another.
    """
    genesis_hash = build_genesis(get_preset(preset_name)).block.hash.hex()[:12]
    return cache / (f"{preset_name}-{size.name}-{size.enterprises}e-{size.records}r-"
                    f"{size.granted}g-seed{seed}-genesis{genesis_hash}")


def build_snapshot(preset_name: str, size: DatasetSize, seed: int,
                   cache: Path = CACHE_DIRECTORY, progress: bool = True) -> Snapshot:
    """Start a fresh network, load the data set, stop it cleanly, keep its data directories."""
    preset = get_preset(preset_name)
    planned = plan_enterprises(preset, size, seed)
    target = snapshot_directory(preset_name, size, seed, cache)
    with tempfile.TemporaryDirectory(prefix="yrd-dataset-") as temporary:
        network_dir = Path(temporary) / NETWORK_DIRECTORY_NAME
        load_average = os.getloadavg()
        with start_network(preset, network_dir) as network:
            figures = asyncio.run(load(preset, network.urls(), planned, seed, progress))
        shutil.rmtree(network_dir / "logs", ignore_errors=True)
        manifest = {
            "preset": preset_name, "size": asdict(size), "seed": seed,
            "load": asdict(figures), "machine": describe_machine(),
            "load_average_start": [round(value, 2) for value in load_average],
            "load_average_end": [round(value, 2) for value in os.getloadavg()],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shutil.copytree(network_dir, partial / NETWORK_DIRECTORY_NAME)
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return Snapshot(target, manifest)


def ensure_snapshot(preset_name: str, size: DatasetSize, seed: int,
                    cache: Path = CACHE_DIRECTORY, rebuild: bool = False,
                    progress: bool = True) -> Snapshot:
    """The snapshot of (preset, size, seed), built first if it is missing."""
    target = snapshot_directory(preset_name, size, seed, cache)
    manifest_path = target / MANIFEST_NAME
    if rebuild or not manifest_path.exists():
        return build_snapshot(preset_name, size, seed, cache, progress)
    return Snapshot(target, json.loads(manifest_path.read_text("utf-8")))


def restore_snapshot(snapshot: Snapshot, data_dir: Path, latency: str = "none",
                     base_port: int | None = None,
                     read_workers: Mapping[str, int] | None = None) -> list[NetworkProcess]:
    """Copy a snapshot's data directories to `data_dir` and configure them on free ports
    (`read_workers`: node id -> read worker processes of that node)."""
    shutil.copytree(snapshot.network_directory, data_dir, dirs_exist_ok=True)
    preset = get_preset(snapshot.manifest["preset"])
    members = write_network(preset, data_dir,
                            base_port or find_free_base_port(len(preset.nodes)), latency,
                            read_workers=read_workers or 0)
    (data_dir / "logs").mkdir(exist_ok=True)
    return members


def run_description(preset: Preset, nodes: dict[str, str], planned: list[PlannedEnterprise]
                    ) -> dict[str, Any]:
    """What the Locust users read (`YRD_BENCH_RUN`): nodes, grants, registry address."""
    return {
        "preset": preset.name, "chain_id": preset.chain_id,
        "registry": "0x" + build_genesis(preset).contracts.registry.hex(),
        "nodes": [{"node_id": node_id, "city": preset.node(node_id).city.value, "url": url}
                  for node_id, url in nodes.items()],
        "grants": [[p.code.code, p.code.city.value, p.bank] for p in planned if p.bank],
    }


def template_urls(preset_name: str, url_template: str) -> list[str]:
    """Every node's URL of a preset from a template such as `http://{node_id}:8600`."""
    return [url_template.format(node_id=node.node_id) for node in get_preset(preset_name).nodes]


def load_into(size: DatasetSize, seed: int, target: list[str], run_file: Path,
              progress: bool = True) -> LoadFigures:
    """Load the data set into a running network (its nodes' URLs) and describe it."""
    with attach_network(target) as network:
        planned = plan_enterprises(network.preset, size, seed)
        figures = asyncio.run(load(network.preset, network.urls(), planned, seed, progress))
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(run_description(network.preset, network.urls(),
                                                       planned)), "utf-8")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Build (or rebuild) a data set snapshot, or load into a running network."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="local4")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cache", type=Path, default=CACHE_DIRECTORY)
    parser.add_argument("--into", metavar="URL_TEMPLATE",
                        help="load into a running network instead, e.g. "
                             "http://{node_id}:8600 (docker compose); no snapshot")
    parser.add_argument("--target", nargs="+", metavar="URL",
                        help="load into a running network instead (every node's URL, e.g. "
                             "from `yrdchain up`); no snapshot")
    parser.add_argument("--run-file", type=Path, default=Path("run.json"),
                        help="with --target or --into: where to write the Locust run "
                             "description")
    arguments = parser.parse_args(argv)
    target = arguments.target or (template_urls(arguments.preset, arguments.into)
                                  if arguments.into else None)
    if target:
        figures = load_into(SIZES[arguments.size], arguments.seed, target, arguments.run_file)
        print(json.dumps(asdict(figures), indent=2))
        return 0
    snapshot = ensure_snapshot(arguments.preset, SIZES[arguments.size], arguments.seed,
                               arguments.cache, arguments.rebuild)
    print(json.dumps(snapshot.manifest, indent=2))
    print(f"snapshot: {snapshot.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
