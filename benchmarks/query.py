"""Signed report queries under Locust on a live network loaded with a seeded data set.

`python -m benchmarks.query` (`make bench-query`) restores the data set snapshot of
`benchmarks.dataset` (building it first if it is missing) into a fresh directory, starts every
node of the preset, and runs Locust headless (`benchmarks/locustfile.py`) in phases of a fixed
time, one after the other on the same network:

1. `max`: `QueryUser` as fast as it goes: the maximum rate of signed report queries;
2. `at80`: the same users paced (`constant_throughput`) at 80% of that rate: p50 and p99;
3. `enterprise`: `EnterpriseUser` as fast as it goes: the unsigned enterprise summary
   (`GET /v1/enterprises/{code}`, one contract call, no signature). The API has no unsigned
   report route, so this and `status` are the honest baselines;
4. `status`: `StatusUser` (`GET /status`): what the HTTP stack alone costs;
5. `mixed`: queries at 80% of the maximum and one publisher per city publishing signed records.

During each phase a sampler reads the CPU use of the node processes and of the Locust
processes (psutil), and the nodes' resident memory, to say which side was saturated. After the
phases the nodes' `/metrics` give the cache hit rates. Locust's CSV (with full history) and HTML
reports, and plots of requests per second and latency over time, go to
`benchmarks/results/query-<date>/`; the table to `benchmarks/results/query-<date>.md` and
`.json`. `--workers N` runs Locust as a master and N worker processes on this machine.

`--target URL…` runs the same phases against a network that is already running (`yrdchain up`,
Compose, Kubernetes; the preset and nodes come from each URL's `/status`): the data set is
loaded into it first (`--skip-load` when `benchmarks.dataset --target` loaded it already), and
the nodes' CPU and memory are not sampled, since their processes are not on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.dataset import (
    CACHE_DIRECTORY,
    SIZES,
    DatasetSize,
    Snapshot,
    ensure_snapshot,
    load,
    plan_enterprises,
    restore_snapshot,
    run_description,
)
from benchmarks.machine import RESULTS_DIRECTORY, describe_machine, results_path
from benchmarks.plots import plot_history
from chain.presets import get_preset
from nodes.cluster.running import RunningNetwork, attach_network, start_network

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SAMPLE_INTERVAL_S = 1.0
LOCUST_GRACE_S = 30.0  # Locust's own start-up and shutdown beyond the run time
SATURATED_PROCESS_PERCENT = 90.0  # one Locust process at this CPU share is one full core
AT_FRACTION = 0.8


@dataclass(frozen=True, slots=True)
class Phase:
    """One Locust run: its user classes and pacing."""

    name: str
    classes: tuple[str, ...]
    seconds: float
    users: int
    rate_per_user: float = 0.0
    publishers: int = 0


@dataclass
class PhaseResult:
    """What a phase measured."""

    name: str
    classes: list[str]
    users: int
    seconds: float
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    memory_mib: dict[str, float] = field(default_factory=dict)
    saturated: str = ""
    load_average: list[float] = field(default_factory=list)


def write_run_description(path: Path, size: DatasetSize, seed: int,
                          network: RunningNetwork) -> None:
    """The file the Locust users read (`YRD_BENCH_RUN`)."""
    planned = plan_enterprises(network.preset, size, seed)
    path.write_text(json.dumps(run_description(network.preset, network.urls(), planned)),
                    encoding="utf-8")


class Sampler:
    """CPU and memory of the node and Locust processes, sampled once a second."""

    def __init__(self, nodes: list[psutil.Process], locust_roots: list[psutil.Process]) -> None:
        self.nodes = nodes
        self.locust_roots = locust_roots
        self.node_cpu: list[float] = []
        self.locust_cpu: list[float] = []
        self.locust_max_process: list[float] = []
        self.machine_cpu: list[float] = []
        self.node_rss: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _locust_processes(self) -> list[psutil.Process]:
        found = []
        for root in self.locust_roots:
            try:
                found += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        return found

    @staticmethod
    def _percent(process: psutil.Process) -> float:
        try:
            return float(process.cpu_percent(None))
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        psutil.cpu_percent(None)
        for process in self.nodes + self._locust_processes():
            self._percent(process)
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self.node_cpu.append(sum(self._percent(p) for p in self.nodes))
            shares = [self._percent(p) for p in self._locust_processes()]
            self.locust_cpu.append(sum(shares))
            self.locust_max_process.append(max(shares, default=0.0))
            self.machine_cpu.append(psutil.cpu_percent(None))
            rss = 0.0
            for process in self.nodes:
                with suppress(psutil.Error):
                    rss += process.memory_info().rss
            self.node_rss.append(rss / 2**20)

    def start(self) -> None:
        """Start sampling in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()

    def summary(self) -> tuple[dict[str, float], dict[str, float], str]:
        """(CPU %, memory MiB, which side was saturated), skipping ramp-up and tail samples."""
        def middle(values: list[float]) -> list[float]:
            cut = len(values) // 10
            return values[cut:len(values) - cut] or values

        def mean(values: list[float]) -> float:
            chosen = middle(values)
            return round(sum(chosen) / len(chosen), 1) if chosen else 0.0

        cores = os.cpu_count() or 1
        cpu = {"nodes_percent": mean(self.node_cpu), "locust_percent": mean(self.locust_cpu),
               "locust_busiest_process_percent": mean(self.locust_max_process),
               "machine_percent": mean(self.machine_cpu), "cores": float(cores)}
        rss = middle(self.node_rss)
        memory = {"nodes_rss_start_mib": round(rss[0], 1) if rss else 0.0,
                  "nodes_rss_end_mib": round(rss[-1], 1) if rss else 0.0}
        if cpu["locust_busiest_process_percent"] >= SATURATED_PROCESS_PERCENT:
            verdict = "load generator (a Locust process used a full core)"
        elif not self.nodes:
            verdict = (f"unknown for the nodes (not on this machine); this machine's CPU "
                       f"{cpu['machine_percent']:.0f}% busy")
        elif cpu["machine_percent"] >= 95.0:
            share = cpu["nodes_percent"] / max(cpu["nodes_percent"] + cpu["locust_percent"], 1)
            verdict = (f"machine CPU (all {cores} cores busy; nodes took {share:.0%} of what "
                       "the benchmark used, the rest was Locust and other processes)")
        else:
            verdict = "neither by CPU (latency-bound or paced)"
        return cpu, memory, verdict


def _locust_command(phase: Phase, prefix: Path, role: str, workers: int,
                    master_port: int) -> list[str]:
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--only-summary", "--loglevel", "WARNING"]
    if role == "worker":
        return [*command, "--worker", "--master-host", "127.0.0.1", "--master-port",
                str(master_port), *phase.classes]
    command += ["-u", str(phase.users), "-r", str(phase.users), "-t", f"{int(phase.seconds)}s",
                "--csv", str(prefix), "--csv-full-history", "--html", f"{prefix}.html",
                "--stop-timeout", "5"]
    if role == "master":
        command += ["--master", "--expect-workers", str(workers), "--master-bind-host",
                    "127.0.0.1", "--master-bind-port", str(master_port)]
    return [*command, *phase.classes]


def run_phase(phase: Phase, run_file: Path, output: Path, network: RunningNetwork,
              workers: int) -> PhaseResult:
    """Run Locust for one phase and read its statistics."""
    prefix = output / phase.name
    environment = dict(os.environ, YRD_BENCH_RUN=str(run_file),
                       YRD_BENCH_RATE_PER_USER=str(phase.rate_per_user),
                       YRD_BENCH_PUBLISHERS=str(phase.publishers),
                       YRD_BENCH_WORKERS=str(workers))
    master_port = _free_port()
    role = "master" if workers else "local"
    load_before = os.getloadavg()
    root = subprocess.Popen(_locust_command(phase, prefix, role, workers, master_port),
                            env=environment, stdout=subprocess.DEVNULL,
                            stderr=open(f"{prefix}.log", "wb"))  # noqa: SIM115
    helpers = [subprocess.Popen(_locust_command(phase, prefix, "worker", workers, master_port),
                                env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(workers)]
    nodes = [psutil.Process(m.process.pid) for m in network.members if m.process is not None]
    sampler = Sampler(nodes, [psutil.Process(process.pid) for process in (root, *helpers)])
    sampler.start()
    try:
        root.wait(phase.seconds + LOCUST_GRACE_S)
    except subprocess.TimeoutExpired:
        root.kill()
        root.wait()
    finally:
        sampler.stop()
        for helper in helpers:
            try:
                helper.wait(10)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
    cpu, memory, verdict = sampler.summary()
    rows = read_stats(Path(f"{prefix}_stats.csv"))
    total = next((row for row in rows if row["name"] == "Aggregated"), None)
    if total is None:
        raise RuntimeError(f"Locust wrote no statistics for phase {phase.name}; see "
                           f"{prefix}.log")
    return PhaseResult(
        name=phase.name, classes=list(phase.classes), users=phase.users, seconds=phase.seconds,
        requests=total["requests"], failures=total["failures"],
        requests_per_s=total["requests_per_s"], p50_ms=total["p50_ms"], p99_ms=total["p99_ms"],
        rows=[row for row in rows if row["name"] != "Aggregated"], cpu=cpu, memory_mib=memory,
        saturated=verdict,
        load_average=[round(value, 2) for value in (*load_before, *os.getloadavg())])


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def read_stats(path: Path) -> list[dict[str, Any]]:
    """Locust's `_stats.csv` rows: name, requests, failures, requests/s, p50, p99."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [{"name": row["Name"], "requests": int(row["Request Count"]),
                 "failures": int(row["Failure Count"]),
                 "requests_per_s": round(_number(row["Requests/s"]), 1),
                 "p50_ms": _number(row["50%"]), "p99_ms": _number(row["99%"])}
                for row in csv.DictReader(handle)]


def scrape_metrics(network: RunningNetwork) -> dict[str, float]:
    """Sum the cache counters of every node's /metrics."""
    wanted = ("yrd_transaction_signature_recoveries_total",
              "yrd_transaction_signature_cache_hits_total",
              "yrd_query_signature_verifications_total", "yrd_consent_contract_calls_total",
              "yrd_consent_cache_hits_total", "yrd_payload_remote_fetches_total",
              "yrd_audit_entries_total", "yrd_rate_limited_total")
    totals = dict.fromkeys(wanted, 0.0)
    with httpx.Client(timeout=10.0) as client:
        for node in network.nodes:
            for line in client.get(f"{node.url}/metrics").text.splitlines():
                name = line.split("{", 1)[0].split(" ", 1)[0]
                if name in totals:
                    totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


def cache_rates(totals: dict[str, float]) -> dict[str, float]:
    """Hit rates of the sender cache and the consent cache."""
    def rate(hits: float, misses: float) -> float:
        return round(hits / (hits + misses), 4) if hits + misses else float("nan")

    return {
        "sender_cache_hit_rate": rate(totals["yrd_transaction_signature_cache_hits_total"],
                                      totals["yrd_transaction_signature_recoveries_total"]),
        "consent_cache_hit_rate": rate(totals["yrd_consent_cache_hits_total"],
                                       totals["yrd_consent_contract_calls_total"]),
    }


@contextmanager
def live_network(snapshot: Snapshot, latency: str = "none", base_port: int | None = None,
                 read_workers: Mapping[str, int] | None = None) -> Iterator[RunningNetwork]:
    """A copy of the snapshot running as node processes; stopped and removed afterwards
    (`read_workers`: node id -> read worker processes of that node, ADR 0021)."""
    with tempfile.TemporaryDirectory(prefix="yrd-bench-query-") as directory:
        members = restore_snapshot(snapshot, Path(directory), latency, base_port,
                                   read_workers)
        preset = get_preset(snapshot.manifest["preset"])
        with start_network(preset, Path(directory), members=members) as network:
            yield network


@contextmanager
def target_network(target: list[str], size: DatasetSize, seed: int,
                   skip_load: bool) -> Iterator[tuple[RunningNetwork, dict[str, Any]]]:
    """A running network given by URLs, with the data set loaded; (network, data set)."""
    with attach_network(target) as network:
        dataset: dict[str, Any] = {"preset": network.preset.name, "size": asdict(size),
                                   "seed": seed, "load": None,
                                   "load_average_start": list(os.getloadavg())}
        if not skip_load:
            planned = plan_enterprises(network.preset, size, seed)
            dataset["load"] = asdict(asyncio.run(load(network.preset, network.urls(),
                                                      planned, seed)))
        dataset["load_average_end"] = list(os.getloadavg())
        yield network, dataset


def phases_for(seconds: float, users: int, smoke: bool) -> list[Phase]:
    """The phases before the maximum is known (`at80` and `mixed` are added after `max`)."""
    short = max(3.0, seconds / 3)
    return [Phase("max", ("QueryUser",), seconds, users),
            Phase("enterprise", ("EnterpriseUser",), short, users),
            Phase("status", ("StatusUser",), short, users)]


@contextmanager
def network_and_dataset(preset_name: str, size_name: str, seed: int, rebuild: bool,
                        cache: Path, latency: str, target: list[str] | None,
                        skip_load: bool) -> Iterator[tuple[RunningNetwork, dict[str, Any]]]:
    """The network to measure with its data set: a restored snapshot, or the target."""
    if target:
        with target_network(target, SIZES[size_name], seed, skip_load) as found:
            yield found
        return
    snapshot = ensure_snapshot(preset_name, SIZES[size_name], seed, cache, rebuild)
    with live_network(snapshot, latency) as network:
        yield network, snapshot.manifest


def run(preset_name: str, size_name: str, seed: int, seconds: float, users: int, workers: int,
        smoke: bool, rebuild: bool, cache: Path, latency: str,
        target: list[str] | None = None, skip_load: bool = False) -> dict[str, Any]:
    """Every phase on one live network; returns the report document."""
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    output = RESULTS_DIRECTORY / ("smoke" if smoke else "") / (
        f"{result_name(workers, bool(target))}-{date}")
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    results: list[PhaseResult] = []
    with network_and_dataset(preset_name, size_name, seed, rebuild, cache, latency, target,
                             skip_load) as (network, dataset):
        preset_name = network.preset.name
        run_file = output / "run.json"
        write_run_description(run_file, SIZES[size_name], seed, network)
        first, *baselines = phases_for(seconds, users, smoke)
        maximum = run_phase(first, run_file, output, network, workers)
        results.append(maximum)
        print(_line(maximum), flush=True)
        rate = max(maximum.requests_per_s * AT_FRACTION / users, 0.1)
        later = [Phase("at80", ("QueryUser",), seconds, users, rate), *baselines,
                 Phase("mixed", ("QueryUser", "PublisherUser"),
                       max(3.0, seconds / 2), users + len(get_preset(preset_name).cities),
                       rate, publishers=len(get_preset(preset_name).cities))]
        for phase in later:
            result = run_phase(phase, run_file, output, network, workers)
            results.append(result)
            print(_line(result), flush=True)
        totals = scrape_metrics(network)
    plots = [f"{output.name}/{path.name}"
             for path in plot_history(output, [result.name for result in results])]
    return {
        "benchmark": "query", "date": date, "machine": describe_machine(),
        "preset": preset_name, "size": size_name, "seed": seed, "workers": workers,
        "users": users, "latency": target_latency(latency) if target else latency,
        "dataset": dataset,
        "target": list(target or []),
        "phases": [asdict(result) for result in results],
        "metrics": totals, "cache": cache_rates(totals), "plots": plots,
        "output": str(output.relative_to(RESULTS_DIRECTORY.parent.parent)),
    }


def target_latency(declared: str) -> str:
    """What the report says of a target's latency model (the nodes do not publish it)."""
    return f"{declared} (the target's, as given with --latency)" if declared != "none" \
        else "target"


def result_name(workers: int, target: bool = False) -> str:
    """`query`, `query-w<N>` with N Locust workers, `query-target` on a running network."""
    name = "query-target" if target else "query"
    return f"{name}-w{workers}" if workers else name


def _line(result: PhaseResult) -> str:
    return (f"{result.name}: {result.requests_per_s} req/s, p50 {result.p50_ms} ms, p99 "
            f"{result.p99_ms} ms, {result.failures}/{result.requests} failed; "
            f"saturated: {result.saturated}")


def render(report: dict[str, Any], command: str) -> str:
    """The markdown table of a query run."""
    phases = {phase["name"]: phase for phase in report["phases"]}
    dataset = report["dataset"]
    load = dataset["load"] or {}
    if load:
        loaded = (f"loaded in {load['seconds']:,} s = {load['records_per_s']} records/s, "
                  f"{load['transactions_per_s']} transactions/s ({load['blocks']} blocks; load "
                  f"average {dataset['load_average_start'][0]} -> "
                  f"{dataset['load_average_end'][0]}).")
    else:
        loaded = "loaded into the target network earlier."
    size = dataset["size"]
    where = (f"Target network (not started here; nodes' CPU not sampled): "
             f"{', '.join(report['target'])}." if report.get("target") else "")
    lines = [f"# Query benchmark ({report['preset']}, data set {report['size']}, seed "
             f"{report['seed']})", "", report["machine"], "",
             f"Command: `{command}`; Locust {'master + ' + str(report['workers']) + ' workers' if report['workers'] else 'one process'}, "  # noqa: E501
             f"{report['users']} users; network latency model: {report['latency']}. {where}",
             "", f"Data set: {size['enterprises']:,} enterprises, {size['records']:,} records, "
             f"{size['granted']:,} grants; {loaded}",
             "", "| phase | users | s | requests | failures | req/s | p50 ms | p99 ms | "
             "nodes CPU % | Locust CPU % (busiest process) | machine CPU % | saturated | "
             "load avg (start/end) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
             "---:|---|---|"]
    for phase in report["phases"]:
        cpu = phase["cpu"]
        lines.append(
            f"| {phase['name']} ({' + '.join(phase['classes'])}) | {phase['users']} | "
            f"{phase['seconds']:g} | {phase['requests']:,} | {phase['failures']} | "
            f"{phase['requests_per_s']:,} | {phase['p50_ms']:g} | {phase['p99_ms']:g} | "
            f"{'-' if report.get('target') else cpu['nodes_percent']} | {cpu['locust_percent']} "
            f"({cpu['locust_busiest_process_percent']}) | {cpu['machine_percent']} | "
            f"{phase['saturated']} | {phase['load_average'][0]} / {phase['load_average'][3]} |")
    lines += ["", "| ratio | value |", "|---|---:|"]

    def ratio(name: str, numerator: str, denominator: str) -> None:
        top, bottom = phases.get(numerator), phases.get(denominator)
        if top and bottom and bottom["requests_per_s"]:
            lines.append(f"| {name} | {top['requests_per_s'] / bottom['requests_per_s']:.2f} |")

    ratio("signed report / unsigned enterprise summary (req/s)", "max", "enterprise")
    ratio("signed report / GET /status (req/s)", "max", "status")
    nodes = len(get_preset(report["preset"]).nodes)
    top = phases.get("max")
    if top:
        lines.append(f"| signed reports per second per node process | "
                     f"{top['requests_per_s'] / nodes:,.0f} |")
    at80 = phases.get("at80")
    if at80:
        memory = at80["memory_mib"]
        resident = ("" if report.get("target") else
                    f"; nodes' resident memory {memory['nodes_rss_start_mib']} -> "
                    f"{memory['nodes_rss_end_mib']} MiB")
        lines += ["", f"At 80% of the maximum ({at80['requests_per_s']:,} req/s offered as "
                  f"{at80['users']} users paced): p50 {at80['p50_ms']:g} ms, p99 "
                  f"{at80['p99_ms']:g} ms, {at80['failures']} failures{resident}."]
    for name, text in (("max", "phase max (as fast as the users go)"),
                       ("at80", "phase at80 (paced at 80% of max: the latency table)")):
        lines += city_pair_table(phases.get(name), text)
    cache = report["cache"]
    metrics = report["metrics"]
    lines += ["", f"Caches over the whole run (all nodes): sender cache hit rate "
              f"{cache['sender_cache_hit_rate']:.1%}, consent cache hit rate "
              f"{cache['consent_cache_hit_rate']:.1%}; query signatures recovered "
              f"{metrics['yrd_query_signature_verifications_total']:,.0f}, remote payload "
              f"fetches {metrics['yrd_payload_remote_fetches_total']:,.0f}, rate-limited "
              f"{metrics['yrd_rate_limited_total']:,.0f}.", "",
              f"Locust CSV, HTML and plots: `{report['output']}/`"]
    lines += [f"![{Path(plot).stem}]({plot})" for plot in report["plots"]]
    return "\n".join(lines) + "\n"


def city_pair_table(phase: dict[str, Any] | None, title: str) -> list[str]:
    """The per city-pair rows of a phase (its report requests), as markdown lines."""
    if phase is None:
        return []
    lines = ["", f"Per city pair (querier city -> origin city), {title}:", "",
             "| request | requests | failures | req/s | p50 ms | p99 ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in phase["rows"]:
        lines.append(f"| {row['name']} | {row['requests']:,} | {row['failures']} | "
                     f"{row['requests_per_s']} | {row['p50_ms']:g} | {row['p99_ms']:g} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.query", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="local4", choices=["local4", "yrd-2020",
                                                               "yrd-2021"])
    parser.add_argument("--size", default=None, choices=sorted(SIZES),
                        help="data set size (default: default, smoke with --smoke)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the max and at80 phases (others are shorter)")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0,
                        help="Locust worker processes (0: one local process)")
    parser.add_argument("--latency", default="none", choices=["none", "regional"],
                        help="the network's latency model (with --target: the one the target "
                             "was started with, for the report)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny data set")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set snapshot")
    parser.add_argument("--cache", type=Path, default=CACHE_DIRECTORY)
    parser.add_argument("--target", nargs="+", metavar="URL",
                        help="measure a running network (every node's URL) instead of "
                             "starting one from the snapshot")
    parser.add_argument("--skip-load", action="store_true",
                        help="with --target: the data set is loaded already")
    arguments = parser.parse_args(argv)
    size = arguments.size or ("smoke" if arguments.smoke else "default")
    seconds = 3.0 if arguments.smoke else arguments.seconds
    users = 4 if arguments.smoke else arguments.users
    report = run(arguments.preset, size, arguments.seed, seconds, users, arguments.workers,
                 arguments.smoke, arguments.rebuild, arguments.cache, arguments.latency,
                 arguments.target, arguments.skip_load)
    command = "python -m benchmarks.query " + " ".join(argv if argv is not None
                                                        else sys.argv[1:])
    text = render(report, command.strip())
    print(text)
    markdown, data = results_path(result_name(arguments.workers, bool(arguments.target)),
                                  smoke=arguments.smoke)
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {markdown} and {data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
