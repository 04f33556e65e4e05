"""Signed reports and eth_call against Hardhat and ganache: interleaved wrk rounds, one run.

`python -m benchmarks.wrk_rounds [--rounds 3] [--seconds 5] [--port-base 23400] [--no-peers]
[--target URL] [--read-workers N]` (`make bench-peers`; `make bench-query` runs it without the
peers):

- a local4 network restored from the smoke data set (`benchmarks.dataset`) on ports from
  `--port-base` + 10, or a running node given with `--target URL` (restored from the same
  snapshot); Hardhat's node and ganache (`benchmarks/peers/node_modules`) on `--port-base` and
  `--port-base` + 1 with the three contracts deployed, all running at once;
- each round runs, in an order rotated from round to round: our signed report
  (`GET /v1/enterprises/{code}/report` at shanghai-1, enterprises of every city, so about three
  quarters of the payloads live at other nodes), our `/rpc` `eth_call`, Hardhat's and
  ganache's `eth_call` of `CreditRegistry.record_count(enterprise)` (a one-slot view);
- the generator is wrk (`benchmarks.wrk_lua`, -t2 -c32). Signed requests are signed just before
  their round, a fresh nonce each and 3 x the best rate yet x the round's length of them (a
  round that runs dry sends replays, refused); a round with more than 1% non-2xx answers is
  void. wrk's CPU is recorded: a round whose
  generator threads were 90% busy or more is marked saturated and gives no ratio;
- CPU per report: user + system time of every node process and of wrk over the round, per
  report, also as a multiple of one coincurve public-key recovery measured in the same run;
- after the rounds, one report round at 80% of the median maximum rate gives the p99 there;
- `--read-workers N`: shanghai-1 serves with N read worker processes beside its own (ADR
  0021); the rounds start once a connection reached each worker, and the node's CPU counts its
  workers (its child processes). Run it with 0, 1, 2 … to see how a node scales with cores.

Medians over valid rounds and same-round ratios go to stdout and to
`benchmarks/results/wrk-rounds-<date>.md` and `.json`, with the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.dataset import CACHE_DIRECTORY, SIZES, ensure_snapshot, plan_enterprises
from benchmarks.machine import describe_machine, results_path
from benchmarks.peers import deploy_on_peer, peer_tools_missing, running_peer
from benchmarks.query import live_network
from benchmarks.wrk_lua import WrkResult, encode_request_line, run_wrk, write_script
from chain.crypto import derive_private_key, recover_address
from chain.genesis import build_genesis
from chain.presets import Preset, get_preset
from contracts import bindings
from nodes.dataset.plan import DatasetSize, PlannedEnterprise
from nodes.query.request_signing import sign_request

PRESET = "local4"
NODE = "shanghai-1"
BANK = "bank:shanghai"
MAX_QUERIED = 4_096  # enterprises a data-set target is queried for
SATURATED_PERCENT = 90.0
VOID_FRACTION = 0.01
SIGNED_HEADROOM = 3.0  # signed requests per round: this times the best rate yet times the length
STAMP_AHEAD_MS = 15_000  # signed at t, stamped t + 15 s: accepted from t - 15 s to t + 45 s
MAX_SIGNING_S = 20.0  # a round whose requests took longer to sign than this is signed again
RECOVERIES_TIMED = 2_000
IDLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Measured:
    """One target in one round."""

    round: int
    target: str
    wrk: WrkResult
    server_cpu_seconds: float
    cpu_by_process: dict[str, float]  # seconds per served process (node id or peer name)
    void: bool
    saturated: bool
    reports_by_workers: float | None = None  # the share of reports read workers answered
    recovery_us: float = 0.0  # one recovery, timed just before and after this round

    @property
    def cpu_us_per_request(self) -> float:
        """Server and generator CPU per answered request, in microseconds."""
        return 1e6 * (self.server_cpu_seconds + self.wrk.cpu_seconds) / max(self.wrk.requests, 1)

    @property
    def server_us_per_request(self) -> float:
        """The served processes' CPU per answered request (the nodes, or the peer), in µs."""
        return 1e6 * self.server_cpu_seconds / max(self.wrk.requests, 1)


def recovery_us() -> float:
    """The median CPU time of one secp256k1 public-key recovery (coincurve), in microseconds.

    Process CPU time, not wall time: on a shared machine the wall clock counts other work.
    """
    key = derive_private_key(b"wrk-rounds")
    digest = bytes(range(32))
    y_parity, r, s = key.sign_hash(digest)
    samples = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(RECOVERIES_TIMED // 5):
            recover_address(digest, y_parity, r, s)
        samples.append((time.process_time() - started) * 1e6 / (RECOVERIES_TIMED // 5))
    return round(statistics.median(samples), 2)


def _cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds so far of each process and, apart, of its children (a node's read workers,
    under "<node> workers"; a worker restarted meanwhile loses its count)."""
    found = {}
    for name, process in processes.items():
        own = children = 0.0
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            own = times.user + times.system
            for child in process.children(recursive=True):
                child_times = child.cpu_times()
                children += child_times.user + child_times.system
        found[name] = own
        if children:
            found[name + " workers"] = children
    return found


def eth_call_line(path: str, to: bytes, data: bytes) -> str:
    """A request-file line for one unsigned eth_call (sent over and over)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                       "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()},
                                  "latest"]}, separators=(",", ":"))
    return encode_request_line("POST", path, {"Content-Type": "application/json"}, body)


def write_signed_reports(path: Path, node_id: str, codes: list[str], count: int) -> None:
    """`count` report requests signed now by the bank, each with its own nonce."""
    preset = get_preset(PRESET)
    key = preset.key(BANK)
    # Signing takes a while on a loaded machine: stamp the requests ahead of now, so that they
    # stay inside the node's 30 s window until the round ends.
    now_ms = int(time.time() * 1000) + STAMP_AHEAD_MS
    with open(path, "w", encoding="utf-8") as file:
        for index in range(count):
            target = f"/v1/enterprises/{codes[index % len(codes)]}/report"
            headers = sign_request(key, preset.chain_id, node_id, "GET", target, now_ms,
                                   f"w{now_ms}x{index:08d}")
            file.write(encode_request_line("GET", target, headers))


@dataclass
class Target:
    """Something wrk drives: its base URL, request file, and the processes that serve it."""

    name: str
    url: str
    processes: dict[str, psutil.Process]
    signed: bool = False
    file: Path | None = None


def measure(target: Target, round_number: int, seconds: float, script: Path,
            last_rate: float, node_id: str, codes: list[str], directory: Path,
            rate: float | None = None) -> Measured:
    """One wrk run against one target, with its CPU accounting."""
    if target.signed:
        target.file = directory / f"signed-{round_number}.txt"
        budget = int(max(rate or last_rate, 100.0) * seconds * SIGNED_HEADROOM) + 500
        started = time.monotonic()
        write_signed_reports(target.file, node_id, codes, budget)
        if time.monotonic() - started > MAX_SIGNING_S:  # too old for the window: sign a half
            write_signed_reports(target.file, node_id, codes, budget // 2)
    assert target.file is not None
    audits_before = _audit_counts(target.url) if target.signed else None
    recovery_before = recovery_us()  # the machine's speed drifts: a recovery beside each round
    before = _cpu_seconds(target.processes)
    result = run_wrk(target.url, target.file, script, seconds, rate=rate)
    after = _cpu_seconds(target.processes)
    recovery = round((recovery_before + recovery_us()) / 2, 2)
    used = {name: round(after[name] - before.get(name, 0.0), 3) for name in after}
    share = None
    if audits_before is not None:
        audits_after = _audit_counts(target.url)
        answered = audits_after[0] - audits_before[0]
        share = round((audits_after[1] - audits_before[1]) / answered, 3) if answered else None
    return Measured(round_number, target.name, result, round(sum(used.values()), 3), used,
                    void=result.failed_fraction > VOID_FRACTION,
                    saturated=result.cpu_percent_of_threads >= SATURATED_PERCENT,
                    reports_by_workers=share, recovery_us=recovery)


def _audit_counts(url: str) -> tuple[float, float]:
    """(audit entries written, of which for read workers) from a node's /metrics."""
    written = by_workers = 0.0
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("yrd_audit_entries_total"):
            written = float(line.rsplit(" ", 1)[1])
        elif line.startswith("yrd_read_worker_requests_total") and 'method="audit"' in line:
            by_workers = float(line.rsplit(" ", 1)[1])
    return written, by_workers


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summarize(rounds: list[Measured], recovery: float) -> dict[str, Any]:
    """Medians per target over valid rounds and same-round ratios of ours over the peers."""
    summary: dict[str, Any] = {"medians": {}, "ratios": {}}
    names = sorted({m.target for m in rounds})
    for name in names:
        valid = [m for m in rounds if m.target == name and not m.void]
        summary["medians"][name] = {
            "rounds_valid": len(valid),
            "per_s": _median([m.wrk.per_s for m in valid]),
            "p99_ms": _median([m.wrk.p99_ms for m in valid]),
            "cpu_us_per_request": _median([m.cpu_us_per_request for m in valid]),
            "recoveries_per_request": _median([m.cpu_us_per_request / (m.recovery_us or recovery)
                                               for m in valid]),
            "server_recoveries_per_request": _median([
                m.server_us_per_request / (m.recovery_us or recovery) for m in valid]),
            "generator_cpu_percent": _median([m.wrk.cpu_percent_of_threads for m in valid])}
    pairs = [("report", "hardhat eth_call"), ("report", "ganache eth_call"),
             ("rpc eth_call", "hardhat eth_call"), ("rpc eth_call", "ganache eth_call")]
    for ours, theirs in pairs:
        same_round = []
        for number in sorted({m.round for m in rounds}):
            mine = [m for m in rounds if m.round == number and m.target == ours]
            peer = [m for m in rounds if m.round == number and m.target == theirs]
            if (mine and peer and not (mine[0].void or peer[0].void)
                    and not (mine[0].saturated or peer[0].saturated)):
                same_round.append(mine[0].wrk.per_s / peer[0].wrk.per_s)
        summary["ratios"][f"{ours} / {theirs}"] = (
            round(statistics.median(same_round), 3) if same_round else None)
    return summary


@contextlib.contextmanager
def peers(port_base: int, enabled: bool) -> Iterator[list[Target]]:
    """Hardhat and ganache with the contracts deployed (none if disabled or missing)."""
    if not enabled or peer_tools_missing() is not None:
        yield []
        return
    enterprise = get_preset(PRESET).enterprises[0].credit_code.to_bytes32()
    with contextlib.ExitStack() as stack:
        found = []
        for offset, name in enumerate(("hardhat", "ganache")):
            url, process = stack.enter_context(running_peer(name, port_base + offset))
            deployed, _ = deploy_on_peer(name, url)
            target = Target(f"{name} eth_call", url, {name: psutil.Process(process.pid)})
            found.append(target)
            target.file = Path(tempfile.mkstemp(suffix=".txt")[1])
            target.file.write_text(eth_call_line(
                "/", deployed.registry, bindings.encode_record_count(enterprise)))
        yield found


def wait_for_workers(url: str, workers: int, timeout_s: float = 60.0) -> None:
    """Return once fresh connections to `url` reached each of its read workers."""
    wanted = {str(index) for index in range(1, workers + 1)}
    deadline = time.monotonic() + timeout_s
    while wanted and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            wanted.discard(httpx.get(url + "/status", timeout=5).headers.get(
                "x-yrd-read-worker", ""))
    if wanted:
        raise RuntimeError(f"read workers {sorted(wanted)} of {url} never answered")


def queried_codes(preset: Preset, dataset_enterprises: int | None,
                  most: int = MAX_QUERIED) -> list[PlannedEnterprise]:
    """The enterprises the reports ask for: the smoke snapshot's granted to the bank, or, for a
    network loaded with `yrdchain dataset --enterprises N` (every enterprise granting, seed 1),
    up to `most` of its N in a seeded random order, so that reads spread over the store."""
    if dataset_enterprises is None:
        return [p for p in plan_enterprises(preset, SIZES["smoke"], 1) if p.bank == BANK]
    size = DatasetSize("target", dataset_enterprises, 5 * dataset_enterprises,
                       dataset_enterprises)
    planned = [p for p in plan_enterprises(preset, size, 1) if p.bank == BANK]
    random.Random(1).shuffle(planned)
    return planned[:most]


def run(rounds: int, seconds: float, port_base: int, with_peers: bool,
        target_url: str | None, read_workers: int = 0,
        dataset_enterprises: int | None = None, queried: int = MAX_QUERIED) -> dict[str, Any]:
    """Every round; returns the report document."""
    preset = get_preset(PRESET)
    snapshot = ensure_snapshot(PRESET, SIZES["smoke"], 1, CACHE_DIRECTORY, progress=False)
    planned = queried_codes(preset, dataset_enterprises, queried)
    codes = [p.code.code for p in planned]
    home = preset.node(NODE).city
    remote = sum(p.code.city != home for p in planned) / max(len(planned), 1)
    genesis = build_genesis(preset)
    load_start = os.getloadavg()
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="yrd-wrk-") as temporary, \
            peers(port_base, with_peers) as peer_targets, \
            contextlib.ExitStack() as stack:
        directory = Path(temporary)
        script = write_script(directory)
        if target_url is None:
            members = stack.enter_context(live_network(
                snapshot, base_port=port_base + 10, read_workers={NODE: read_workers})).members
            url = next(m.config.url for m in members if m.config.node_id == NODE)
            wait_for_workers(url, read_workers)
            node_processes = {m.config.node_id: psutil.Process(m.process.pid)
                              for m in members if m.process}
        else:
            url, node_processes = target_url.rstrip("/"), {}
        node_id = httpx.get(url + "/status", timeout=10).json()["node_id"]
        rpc = Target("rpc eth_call", url, node_processes, file=directory / "rpc.txt")
        assert rpc.file is not None
        rpc.file.write_text(eth_call_line("/rpc", genesis.contracts.registry,
                                          bindings.encode_record_count(
                                              preset.enterprises[0].credit_code.to_bytes32())))
        report = Target("report", url, node_processes, signed=True)
        targets = [report, rpc, *peer_targets]
        recovery = recovery_us()
        idle_before = _cpu_seconds(node_processes)
        time.sleep(IDLE_SECONDS)  # what the nodes burn with no load: timers, heartbeats
        idle_after = _cpu_seconds(node_processes)
        idle_per_s = {name: round((idle_after[name] - idle_before.get(name, 0.0))
                                  / IDLE_SECONDS, 4) for name in idle_after}
        warm = measure(report, 0, 3.0, script, 1_000.0, node_id, codes, directory)
        last_rate = max(warm.wrk.per_s, 100.0)  # sizes the first round's signed requests
        for number in range(1, rounds + 1):
            shift = number % len(targets)
            for target in targets[shift:] + targets[:shift]:
                result = measure(target, number, seconds, script, last_rate, node_id, codes,
                                 directory)
                if target is report:  # the best rate yet: a faster round must not run dry
                    last_rate = max(last_rate, result.wrk.per_s)
                measured.append(result)
                print(_line(result, recovery), flush=True)
        maximum = _median([m.wrk.per_s for m in measured if m.target == "report"
                           and not m.void]) or 0.0
        at80 = measure(report, rounds + 1, seconds, script, maximum, node_id, codes,
                       directory, rate=0.8 * maximum) if maximum else None
        if at80 is not None:
            print("at 80%: " + _line(at80, recovery), flush=True)
    summary = summarize(measured, recovery)
    return {"benchmark": "wrk-rounds", "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "machine": describe_machine(), "load_average_start": load_start,
            "load_average_end": os.getloadavg(), "recovery_us": recovery,
            "read_workers": read_workers, "dataset_enterprises": dataset_enterprises,
            "queried_enterprises": len(codes),
            "remote_enterprise_fraction": round(remote, 2), "rounds": rounds,
            "idle_node_cpu_per_s": idle_per_s,
            "report_cpu_us_net_of_idle": _net_of_idle(measured, idle_per_s, recovery),
            "seconds": seconds, "measured": [_as_json(m) for m in measured],
            "at_80_percent": _as_json(at80) if at80 else None, **summary}


def _net_of_idle(measured: list[Measured], idle_per_s: dict[str, float], recovery: float
                 ) -> dict[str, float | None]:
    """Median CPU per report after taking away what the nodes burn idle (per second)."""
    idle = sum(idle_per_s.values())
    values = [m.cpu_us_per_request - 1e6 * idle * m.wrk.seconds / max(m.wrk.requests, 1)
              for m in measured if m.target == "report" and not m.void]
    median = _median(values)
    return {"cpu_us": median, "recoveries": round(median / recovery, 2) if median else None}


def _as_json(measured: Measured) -> dict[str, Any]:
    return {**asdict(measured), "cpu_us_per_request": round(measured.cpu_us_per_request, 1)}


def _line(m: Measured, recovery: float) -> str:
    recovery = m.recovery_us or recovery
    flags = ("VOID " if m.void else "") + ("SATURATED " if m.saturated else "")
    return (f"round {m.round} {m.target:<18} {m.wrk.per_s:>9,.0f}/s p50 {m.wrk.p50_ms:.1f} ms "
            f"p99 {m.wrk.p99_ms:.1f} ms non-2xx {m.wrk.non_2xx} wrk CPU "
            f"{m.wrk.cpu_percent_of_threads:.0f}% CPU/request {m.cpu_us_per_request:.0f} us "
            f"({m.cpu_us_per_request / recovery:.1f} recoveries; served processes "
            f"{m.server_us_per_request / recovery:.1f}; one recovery {recovery:.1f} us) {flags}"
            + (f" by workers {m.reports_by_workers:.0%}" if m.reports_by_workers else "")
            + "\n    CPU us/request: "
            + ", ".join(f"{name} {1e6 * used / max(m.wrk.requests, 1):.0f}"
                        for name, used in [*m.cpu_by_process.items(),
                                           ("wrk", m.wrk.cpu_seconds)]))


def render(report: dict[str, Any]) -> str:
    """The markdown summary."""
    lines = [f"# Signed reports and eth_call, wrk rounds, {report['date']}", "",
             report["machine"], "",
             f"Load average at start {report['load_average_start']}, at end "
             f"{report['load_average_end']}; {report['rounds']} rounds of "
             f"{report['seconds']} s, wrk -t2 -c32; {report.get('read_workers', 0)} read "
             f"workers at {NODE}; one coincurve recovery "
             f"{report['recovery_us']} us at the start (each round is divided by a recovery "
             f"timed beside it); {report['remote_enterprise_fraction']:.0%} of the "
             "queried enterprises live in another city.", "",
             "| target | valid rounds | median /s | p99 ms | CPU us/request | recoveries | "
             "recoveries, served processes only | wrk CPU % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, median in report["medians"].items():
        lines.append(f"| {name} | {median['rounds_valid']} | {median['per_s']} | "
                     f"{median['p99_ms']} | {median['cpu_us_per_request']} | "
                     f"{median['recoveries_per_request']} | "
                     f"{median.get('server_recoveries_per_request')} | "
                     f"{median['generator_cpu_percent']} |")
    lines += ["", "| same-round ratio (median) | value |", "|---|---:|"]
    lines += [f"| {name} | {value if value is not None else 'none (void or saturated)'} |"
              for name, value in report["ratios"].items()]
    net = report["report_cpu_us_net_of_idle"]
    lines += ["", f"Idle node CPU (s per s): {report['idle_node_cpu_per_s']}; report CPU net of "
                  f"it: {net['cpu_us']} us = {net['recoveries']} recoveries."]
    at80 = report["at_80_percent"]
    if at80:
        lines += ["", f"Report at 80% of the maximum ({at80['wrk']['per_s']}/s): p99 "
                      f"{at80['wrk']['p99_ms']} ms."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wrk_rounds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--port-base", type=int, default=23_400)
    parser.add_argument("--no-peers", action="store_true", help="ours only (bench-query)")
    parser.add_argument("--target", help="a running node restored from the smoke snapshot")
    parser.add_argument("--read-workers", type=int, metavar="N",
                        help=f"read worker processes of {NODE} (ADR 0021; not with --target)")
    parser.add_argument("--dataset-enterprises", type=int, metavar="N",
                        help="with --target: the network holds `yrdchain dataset --enterprises N`"
                             " (seed 1); reports ask for its enterprises, spread over the store")
    parser.add_argument("--queried-enterprises", type=int, default=MAX_QUERIED, metavar="K",
                        help="with --dataset-enterprises: ask for at most K distinct enterprises "
                             "(the same K on two sizes compares the sizes, not the working sets)")
    arguments = parser.parse_args(argv)
    if arguments.dataset_enterprises is not None and arguments.target is None:
        parser.error("--dataset-enterprises goes with --target")
    report = run(arguments.rounds, arguments.seconds, arguments.port_base,
                 not arguments.no_peers, arguments.target, arguments.read_workers or 0,
                 arguments.dataset_enterprises, arguments.queried_enterprises)
    text = render(report)
    print(text)
    name = "wrk-rounds" + (f"-read-workers-{arguments.read_workers}"  # 0 too: kept apart
                           if arguments.read_workers is not None else "")
    markdown, data = results_path(name, smoke=arguments.rounds < 2)
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
