"""yrdchain next to Hardhat's node and ganache, on the same machine, in the same run.

`python -m benchmarks.peers [--seconds N] [--smoke]` (`make bench-peers`) starts, one after the
other and each alone while it is measured:

- Hardhat's node (`npx hardhat node`, npm package `hardhat`, automine, Shanghai EVM) and
  ganache (npm package `ganache`), both from `benchmarks/peers/node_modules` (`npm ci` there),
  listening on 127.0.0.1. The regulator's development key deploys `Consortium`,
  `CreditRegistry` and `Authorization` from `contracts/artifacts` (the same Vyper bytecode the
  genesis of yrdchain runs) through web3.py, funded by the peer's first unlocked account, and
  admits the Shanghai bureau as a publisher;
- a local4 yrdchain network restored from the smoke data set snapshot (`benchmarks.dataset`).

Measured with one asyncio driver (httpx, `CONCURRENCY` requests in flight) for each target:

- `eth_call` throughput of two views, `CreditRegistry.record_count(enterprise)` and
  `Consortium.has_role(account, role)`, on each peer and on our `/rpc` (one node);
- our signed report query (`GET /v1/enterprises/{code}/report`, requests signed beforehand so
  the driver does not spend its time signing) on the same node;
- `eth_sendRawTransaction` to receipt: `TRANSACTIONS` signed `publish` calls from
  `--senders` bureaus (Shanghai, then Nanjing, Hangzhou, Hefei: each admitted as a publisher on
  the peers too), `--in-flight` at a time (default `CONCURRENCY`), each sender's sends one at a
  time in its nonce order (automining peers refuse a nonce gap), each transaction polled with
  `eth_getTransactionReceipt` (at once, then every `RECEIPT_POLL_S`, web3.py's interval) until
  it has one; throughput and latency per transaction. Many
  institutions publishing at once is the chain's real load, and the same driver runs every
  target. On yrdchain the receipt exists once the block is
  committed by 2f+1 of the 4 validators; on the peers once automine mined it (one node, no
  consensus).

The ratios compare yrdchain with each peer within this run. The table goes to stdout and to
`benchmarks/results/peers-<date>.md` and `.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from web3 import Web3

from benchmarks.dataset import CACHE_DIRECTORY, SIZES, ensure_snapshot, plan_enterprises
from benchmarks.lean_http import LeanClient, LeanHttpError
from benchmarks.machine import describe_machine, results_path
from benchmarks.query import live_network
from chain.builder import TransactionSigner, build_publish
from chain.crypto import PrivateKey
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from contracts import bindings
from nodes.query.request_signing import sign_request

PEERS_DIRECTORY = Path(__file__).resolve().parent / "peers"
PRESET = "local4"
CONCURRENCY = 16
TRANSACTIONS = 200
SENDERS = ("bureau:shanghai", "bureau:nanjing", "bureau:hangzhou", "bureau:hefei")
SMOKE_TRANSACTIONS = 10
PEER_READY_TIMEOUT_S = 60.0
RECEIPT_POLL_S = 0.1  # web3.py's wait_for_transaction_receipt polls every 0.1 s
RECEIPT_TIMEOUT_S = 120.0
FUNDING_WEI = 10**20  # 100 ether of the peer's dev money for our deployer and bureau
GAS = 2_000_000
DEPLOY_GAS = 6_000_000
HARDHAT_CHAIN_ID = 31337
GANACHE_CHAIN_ID = 1337


@dataclass(frozen=True, slots=True)
class Rate:
    """One throughput measurement: operations, seconds, rate and latencies."""

    target: str
    operation: str
    operations: int
    errors: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    driver_cpu_percent: float  # near 100: the driver, not the target, set the rate


@dataclass(frozen=True, slots=True)
class Target:
    """A JSON-RPC endpoint with the contracts deployed and the keys to use it."""

    name: str
    rpc_url: str
    chain_id: int
    consortium: bytes
    registry: bytes
    sender_urls: tuple[str, ...] = ()  # each sending bureau's endpoint; empty: rpc_url for all


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


async def timed_runs(name: str, operation: str, concurrency: int,
                     next_job: Callable[[], object | None],
                     attempt: Callable[[object], Awaitable[bool]],
                     failures: tuple[type[BaseException], ...]) -> Rate:
    """`concurrency` workers take jobs until `next_job` gives None and time each `attempt`
    (an exception of `failures` counts as an error); the driver's own CPU share is recorded."""
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while (job := next_job()) is not None:
            began = time.perf_counter()
            try:
                ok = await attempt(job)
            except failures:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors += 1

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return Rate(name, operation, len(latencies), errors, round(elapsed, 2),
                round(len(latencies) / elapsed, 1), _percentile(latencies, 0.5),
                _percentile(latencies, 0.99), round(100 * cpu / elapsed, 1))


async def drive(name: str, operation: str, seconds: float,
                request: Callable[[httpx.AsyncClient], Awaitable[bool]],
                limit: int | None = None, concurrency: int = CONCURRENCY) -> Rate:
    """Run `request` with `concurrency` in flight for `seconds` (or `limit` operations)."""
    deadline = time.perf_counter() + seconds
    issued = 0

    def next_job() -> bool | None:
        nonlocal issued
        if time.perf_counter() >= deadline or (limit is not None and issued >= limit):
            return None
        issued += 1
        return True

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        return await timed_runs(name, operation, concurrency, next_job,
                                lambda _: request(client), (httpx.HTTPError,))


def eth_call_request(url: str, to: bytes, data: bytes) -> Callable[[httpx.AsyncClient],
                                                                   Awaitable[bool]]:
    """A request function making one eth_call."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, "latest"]}

    async def request(client: httpx.AsyncClient) -> bool:
        response = await client.post(url, json=body)
        return response.status_code == 200 and "result" in response.json()

    return request


def publish_raws(key: PrivateKey, chain_id: int, registry: bytes, first_nonce: int, count: int,
                 tag: str, gas_price: int) -> list[bytes]:
    """`count` signed publishes of distinct records."""
    enterprise = get_preset(PRESET).enterprises[0].credit_code
    signer = TransactionSigner(key, chain_id, gas=GAS, gas_price=gas_price)
    raws = []
    for index in range(count):
        record = CreditRecord(enterprise, RecordKind.TAX, "2025", {"peer": tag, "n": index})
        raws.append(build_publish(signer, first_nonce + index, registry, record).raw)
    return raws


async def send_to_receipt(name: str, urls: list[str], raws: list[list[bytes]],
                          in_flight: int = CONCURRENCY) -> Rate:
    """Send each raw transaction and poll until its receipt exists; `in_flight` at a time.

    `raws` holds each sender's transactions in nonce order and `urls` the JSON-RPC endpoint
    each sender uses (its own city's node on yrdchain, the one node of a peer). A sender's sends
    go out one at a time in that order (automining peers refuse a nonce gap); senders take
    turns, and the receipt polls (to the sender's endpoint) overlap. The driver is
    `benchmarks.lean_http` (pre-encoded requests on keep-alive connections), so that the polls
    do not saturate the driver before the target.
    """
    endpoints = [(f"{parts.scheme}://{parts.netloc}", parts.path or "/")
                 for parts in map(urlsplit, urls)]
    queues = [iter(own) for own in raws]
    locks = [asyncio.Lock() for _ in raws]
    # one job per transaction, senders in turn; the workers share the one iterator
    jobs = iter([sender for round_ in itertools.zip_longest(*(range(len(own)) for own in raws))
                 for sender, index in enumerate(round_) if index is not None])
    clients = {base: LeanClient(base, in_flight + len(raws)) for base, _ in endpoints}
    for client in clients.values():
        await client.start()
    try:
        async def one(sender: int) -> bool:
            base, path = endpoints[sender]
            client = clients[base]
            async with locks[sender]:
                raw = next(queues[sender])
                answer = await client.rpc(path, "eth_sendRawTransaction", ["0x" + raw.hex()])
            if "result" not in answer:
                raise LeanHttpError(f"{name} refused a transaction: {answer.get('error')}")
            poll = client.encode("POST", path, json.dumps({
                "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                "params": [answer["result"]]}).encode())
            deadline = time.perf_counter() + RECEIPT_TIMEOUT_S
            while time.perf_counter() < deadline:
                status, body = await client.send(poll)
                receipt = json.loads(body).get("result") if status == 200 else None
                if receipt:
                    return int(receipt["status"], 16) == 1
                await asyncio.sleep(RECEIPT_POLL_S)
            return False

        return await timed_runs(name, "eth_sendRawTransaction -> receipt", in_flight,
                                lambda: next(jobs, None), one,  # type: ignore[arg-type]
                                (LeanHttpError,))
    finally:
        for client in clients.values():
            client.close()


# Peers -----------------------------------------------------------------------------------------


def peer_tools_missing() -> str | None:
    """Why the peers cannot run here, or None."""
    if shutil.which("node") is None or shutil.which("npx") is None:
        return "node/npx not found on PATH"
    for package in ("hardhat", "ganache"):
        if not (PEERS_DIRECTORY / "node_modules" / package / "package.json").exists():
            return (f"npm package {package} not installed: run `npm ci` in "
                    f"{PEERS_DIRECTORY} (or `make peers-install`)")
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peer_command(name: str, port: int) -> list[str]:
    """The command line starting a peer on 127.0.0.1:port."""
    binary = PEERS_DIRECTORY / "node_modules" / ".bin"
    if name == "hardhat":
        return [str(binary / "hardhat"), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    return [str(binary / "ganache"), "--server.host", "127.0.0.1", "--server.port", str(port),
            "--chain.hardfork", "shanghai", "--chain.chainId", str(GANACHE_CHAIN_ID),
            "--logging.quiet", "--wallet.totalAccounts", "2"]


@contextmanager
def running_peer(name: str, port: int | None = None
                 ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A peer node process (on `port`, or a free one); its process group is stopped afterwards."""
    port = port or _free_port()
    process = subprocess.Popen(peer_command(name, port), cwd=PEERS_DIRECTORY,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PEER_READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")
            try:
                if httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                         "params": []}, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {PEER_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.3)
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def deploy_on_peer(name: str, url: str) -> tuple[Target, int]:
    """Deploy the three contracts with the regulator's key, admit the bureaus; (target, price)."""
    preset = get_preset(PRESET)
    web3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    chain_id = web3.eth.chain_id
    gas_price = web3.eth.gas_price
    regulator = preset.key("regulator")
    funder = web3.eth.accounts[0]
    for account in (regulator.address, *(preset.key(label).address for label in SENDERS)):
        web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction({
            "from": funder, "to": Web3.to_checksum_address(account), "value": FUNDING_WEI}))

    def send(key: PrivateKey, to: bytes | None, data: bytes, gas: int = GAS) -> bytes:
        nonce = web3.eth.get_transaction_count(Web3.to_checksum_address(key.address))
        raw = TransactionSigner(key, chain_id, gas=gas, gas_price=gas_price).sign(
            nonce, to or b"", data)
        receipt = web3.eth.wait_for_transaction_receipt(web3.eth.send_raw_transaction(raw))
        if receipt["status"] != 1:
            raise RuntimeError(f"{name}: a setup transaction reverted")
        address = receipt.get("contractAddress")
        return bytes.fromhex(address[2:]) if address else b""

    consortium = send(regulator, None, bindings.deploy_code(
        bindings.load_artifact("Consortium")), DEPLOY_GAS)
    registry = send(regulator, None, bindings.deploy_code(
        bindings.load_artifact("CreditRegistry"), consortium, preset.dispute_window_blocks),
        DEPLOY_GAS)
    send(regulator, None, bindings.deploy_code(bindings.load_artifact("Authorization"),
                                               consortium), DEPLOY_GAS)
    for label in SENDERS:
        institution = preset.institution(label)
        send(regulator, consortium, bindings.encode_admit(
            preset.key(label).address, bindings.ROLE_PUBLISHER, institution.city.number,
            institution.name))
    return Target(name, url, chain_id, consortium, registry), gas_price


@dataclass(frozen=True, slots=True)
class PublishLoad:
    """The publish-to-receipt load: how many transactions, senders, and in flight."""

    transactions: int = TRANSACTIONS
    senders: int = 1
    in_flight: int = CONCURRENCY

    def labels(self) -> tuple[str, ...]:
        """The sending bureaus."""
        return SENDERS[:self.senders]


async def measure_target(target: Target, seconds: float, load: PublishLoad,
                         gas_price: int, first_nonces: list[int]) -> list[Rate]:
    """eth_call of two views, then publishes to receipt, on one target."""
    preset = get_preset(PRESET)
    enterprise = preset.enterprises[0].credit_code.to_bytes32()
    bureau = preset.key("bureau:shanghai")
    rates = [
        await drive(target.name, "eth_call record_count", seconds, eth_call_request(
            target.rpc_url, target.registry, bindings.encode_record_count(enterprise))),
        await drive(target.name, "eth_call has_role", seconds, eth_call_request(
            target.rpc_url, target.consortium,
            bindings.encode_has_role(bureau.address, bindings.ROLE_PUBLISHER))),
    ]
    share = -(-load.transactions // load.senders)
    raws = [publish_raws(preset.key(label), target.chain_id, target.registry, nonce, share,
                         f"{target.name}-{label}", gas_price)
            for label, nonce in zip(load.labels(), first_nonces, strict=True)]
    urls = list(target.sender_urls or (target.rpc_url,) * load.senders)
    rates.append(await send_to_receipt(target.name, urls[:load.senders], raws, load.in_flight))
    return rates


async def signed_reports(url: str, node_id: str, seconds: float, grants: list[str]) -> Rate:
    """Our signed report query on one node, requests signed before the clock starts."""
    preset = get_preset(PRESET)
    key = preset.key("bank:shanghai")
    budget = int(max(seconds, 1.0) * 2_000)
    now_ms = int(time.time() * 1000)
    signed = []
    for index in range(budget):
        path = f"/v1/enterprises/{grants[index % len(grants)]}/report"
        signed.append((path, sign_request(key, preset.chain_id, node_id, "GET", path, now_ms)))
    queue = iter(signed)

    async def request(client: httpx.AsyncClient) -> bool:
        item = next(queue, None)
        if item is None:
            return False
        path, headers = item
        return (await client.get(url + path, headers=headers)).status_code == 200

    return await drive("yrdchain", "signed report query", seconds, request, limit=budget)


def measure_yrdchain(seconds: float, load: PublishLoad, cache: Path) -> list[Rate]:
    """The same measurements on one node of a local4 network with the smoke data set (the
    publishes: each bureau to its own city's node)."""
    snapshot = ensure_snapshot(PRESET, SIZES["smoke"], 1, cache, progress=False)
    preset = get_preset(PRESET)
    genesis = build_genesis(preset)
    grants = [p.code.code for p in plan_enterprises(preset, SIZES["smoke"], 1)
              if p.bank == "bank:shanghai"]
    with live_network(snapshot) as network:
        url = network.url("shanghai-1")
        # each bureau sends to its own city's node, as institutions do
        sender_urls = tuple(f"{network.url(label.split(':')[1] + '-1')}/rpc"
                            for label in load.labels())
        target = Target("yrdchain", f"{url}/rpc", preset.chain_id,
                        genesis.contracts.consortium, genesis.contracts.registry, sender_urls)
        nonces = [int(httpx.post(target.rpc_url, json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": ["0x" + preset.key(label).address.hex(), "pending"]}).json()["result"], 16)
            for label in load.labels()]
        rates = asyncio.run(measure_target(target, seconds, load, 0, nonces))
        rates.insert(0, asyncio.run(signed_reports(url, "shanghai-1", seconds, grants)))
    return rates


def measure_peer(name: str, seconds: float, load: PublishLoad) -> list[Rate]:
    """Start a peer, deploy, measure, stop it."""
    with running_peer(name) as (url, _):
        target, gas_price = deploy_on_peer(name, url)
        web3 = Web3(Web3.HTTPProvider(url))
        nonces = [web3.eth.get_transaction_count(Web3.to_checksum_address(
            get_preset(PRESET).key(label).address)) for label in load.labels()]
        return asyncio.run(measure_target(target, seconds, load, gas_price, nonces))


def render(report: dict[str, Any]) -> str:
    """The markdown tables of a run."""
    lines = [f"# yrdchain and its peers, {report['date']}", "", report["machine"], "",
             f"Command: `{report['command']}`; load average at start "
             f"{report['load_average_start']}, at end {report['load_average_end']}. One "
             f"driver process, {CONCURRENCY} requests in flight ({report['in_flight']} for "
             f"publishes, from {report['senders']} sending bureau(s)); each target runs alone "
             f"while measured. Peers: {report['peers_note']}", "",
             "| target | operation | ops | errors | s | ops/s | p50 ms | p99 ms | driver CPU % |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rate in report["rates"]:
        lines.append(f"| {rate['target']} | {rate['operation']} | {rate['operations']:,} | "
                     f"{rate['errors']} | {rate['seconds']} | {rate['per_s']:,} | "
                     f"{rate['p50_ms']} | {rate['p99_ms']} | {rate['driver_cpu_percent']} |")
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in report["ratios"].items()]
    return "\n".join(lines) + "\n"


def ratios(rates: list[Rate]) -> dict[str, float]:
    """yrdchain over each peer, per operation (throughput; above 1 means yrdchain is faster)."""
    by_key = {(rate.target, rate.operation): rate for rate in rates}
    found: dict[str, float] = {}
    ours_report = by_key.get(("yrdchain", "signed report query"))
    for peer in ("hardhat", "ganache"):
        for operation in ("eth_call record_count", "eth_call has_role",
                          "eth_sendRawTransaction -> receipt"):
            ours, theirs = by_key.get(("yrdchain", operation)), by_key.get((peer, operation))
            if ours and theirs and theirs.per_s:
                found[f"{operation}: yrdchain / {peer}"] = round(ours.per_s / theirs.per_s, 3)
        theirs = by_key.get((peer, "eth_call record_count"))
        if ours_report and theirs and theirs.per_s:
            found[f"yrdchain signed report query / {peer} eth_call record_count"] = round(
                ours_report.per_s / theirs.per_s, 3)
        ours = by_key.get(("yrdchain", "eth_sendRawTransaction -> receipt"))
        theirs = by_key.get((peer, "eth_sendRawTransaction -> receipt"))
        if ours and theirs and theirs.p50_ms:
            found[f"send -> receipt p50 latency: yrdchain / {peer}"] = round(
                ours.p50_ms / theirs.p50_ms, 2)
    return found


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="length of each eth_call and report measurement")
    parser.add_argument("--transactions", type=int, default=TRANSACTIONS)
    parser.add_argument("--senders", type=int, default=1, choices=range(1, len(SENDERS) + 1),
                        help="publishing bureaus, each sending in its own nonce order")
    parser.add_argument("--in-flight", type=int, default=CONCURRENCY,
                        help="publishes in flight (send to receipt) at once")
    parser.add_argument("--targets", default="yrdchain,hardhat,ganache",
                        help="comma-separated targets to measure, in this order")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--cache", type=Path, default=CACHE_DIRECTORY)
    arguments = parser.parse_args(argv)
    seconds = 2.0 if arguments.smoke else arguments.seconds
    transactions = SMOKE_TRANSACTIONS if arguments.smoke else arguments.transactions
    load = PublishLoad(transactions, arguments.senders, arguments.in_flight)
    targets = [name.strip() for name in arguments.targets.split(",") if name.strip()]
    unknown = sorted(set(targets) - {"yrdchain", "hardhat", "ganache"})
    if unknown:
        parser.error(f"--targets: unknown {', '.join(unknown)}; "
                     "expected yrdchain, hardhat, ganache")
    load_start = [round(value, 2) for value in os.getloadavg()]
    rates = measure_yrdchain(seconds, load, arguments.cache) if "yrdchain" in targets else []
    peers = [name for name in targets if name != "yrdchain"]
    missing = peer_tools_missing() if peers else None
    note = "Hardhat's node and ganache from npm" if missing is None else f"skipped: {missing}"
    if missing is None:
        versions = {}
        for peer in peers:
            package = PEERS_DIRECTORY / "node_modules" / peer / "package.json"
            versions[peer] = json.loads(package.read_text("utf-8"))["version"]
            rates += measure_peer(peer, seconds, load)
        note = ", ".join(f"{peer} {version}" for peer, version in versions.items()) + " (npm)"
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    command = "python -m benchmarks.peers " + " ".join(argv if argv is not None
                                                        else sys.argv[1:])
    report = {"benchmark": "peers", "date": date, "command": command.strip(),
              "machine": describe_machine(), "load_average_start": load_start,
              "load_average_end": [round(value, 2) for value in os.getloadavg()],
              "peers_note": note, "senders": load.senders, "in_flight": load.in_flight,
              "rates": [asdict(rate) for rate in rates],
              "ratios": ratios(rates)}
    text = render(report)
    print(text)
    markdown, data = results_path("peers", smoke=arguments.smoke)
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {markdown} and {data}", file=sys.stderr)
    return 0 if missing is None or arguments.smoke else 1


if __name__ == "__main__":
    raise SystemExit(main())
