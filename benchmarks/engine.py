"""Storage-state engine: CPU per publish per node, native handlers against the py-evm reference.

`python -m benchmarks.engine [--repetitions N] [--smoke]` (`make bench-engine`) signs distinct
publishes (four bureaus of local4, `benchmarks.core.publish_transactions`) once, then, round after
round and in an order that alternates, runs each engine on a fresh pair of ledgers over LMDB
stores in a temporary directory:

- proposer: the block's transactions are admitted (not timed), then `build_block` and
  `append_block` (one execution and the commit) are timed;
- follower: admitting the same raw transactions (decode and one signature recovery each) is
  timed, then `append_block` of the proposer's block (validation, execution, commit).

A node's CPU per publish is the follower's admission plus its append, divided by the block's
publishes (what each validator spends on a transaction it did not propose). In the same round,
raw coincurve recoveries of the same signatures give the unit: every figure is also printed as a
multiple of one recovery. CPU is `time.process_time` (other processes' load does not inflate it);
the load average before and after is printed beside the figures. Results go to stdout and
benchmarks/results/engine-<UTC date>.md and .json (smoke runs to benchmarks/results/smoke/).

`--live` adds the whole-node figure (`benchmarks/engine_live.py`): local4 as four node processes
on ports 21800-21803, single publishes by `eth_sendRawTransaction` at `--rate` per second, the
processes' CPU from /proc divided by publishes and nodes, each engine in turn in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.core import publish_transactions, run_coincurve, signature_inputs
from benchmarks.engine_live import LIVE_PRESET, LiveRound, measure_live
from benchmarks.machine import describe_machine, results_path
from chain.crypto import keccak
from chain.engine import ENGINES, EVM_ENGINE, NATIVE_ENGINE
from chain.genesis import Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from nodes.storage.blocks import LmdbBlockStore

PRESET = "local4"
BLOCK_INTERVAL_MS = 1_000
FULL_BLOCK_TRANSACTIONS = 500
SMOKE_BLOCK_TRANSACTIONS = 40
FULL_REPETITIONS = 5
TARGET_RECOVERIES_PER_PUBLISH = 10.0  # issue 10: CPU per publish per node at most 10 recoveries
LIVE_PUBLISHES = 400
SMOKE_LIVE_PUBLISHES = 12
LIVE_RATE_PER_S = 30.0  # offered load both engines sustain (the reference commits ~35 tx/s)


@dataclass(frozen=True)
class Round:
    """One engine on one block: CPU microseconds per publish."""

    engine: str
    proposer_us: float
    follower_admit_us: float
    follower_append_us: float
    recovery_us: float

    @property
    def node_us(self) -> float:
        """A follower's whole CPU per publish: admission and append."""
        return self.follower_admit_us + self.follower_append_us


def _cpu() -> float:
    return time.process_time()


def measure_round(genesis: Genesis, raws: Sequence[bytes], recovery_us: float) -> Round:
    """One proposer and one follower on fresh LMDB stores, one block of `raws`."""
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as directory:
        return _measure_in(Path(directory), genesis, raws, recovery_us)


def _measure_in(directory: Path, genesis: Genesis, raws: Sequence[bytes],
                recovery_us: float) -> Round:
    count = len(raws)
    with LmdbBlockStore(directory / "proposer") as proposer_store, \
            LmdbBlockStore(directory / "follower") as follower_store:
        proposer = Ledger(proposer_store, genesis)
        follower = Ledger(follower_store, genesis)
        for raw in raws:
            proposer.admit(raw)
        start = _cpu()
        block = proposer.build_block(proposer.head.timestamp_ms + BLOCK_INTERVAL_MS,
                                     "shanghai-1", limit=count)
        committed = proposer.append_block(block)
        proposer_us = (_cpu() - start) * 1e6 / count
        assert len(committed.receipts) == count, "the block must hold every publish"
        assert all(receipt.status == 1 for receipt in committed.receipts)
        start = _cpu()
        for raw in raws:
            follower.admit(raw)
        admit_us = (_cpu() - start) * 1e6 / count
        start = _cpu()
        follower.append_block(block)
        append_us = (_cpu() - start) * 1e6 / count
        assert follower.head == proposer.head
    return Round(genesis.engine, proposer_us, admit_us, append_us, recovery_us)


def measure_recovery(inputs: Sequence[tuple[bytes, bytes]]) -> float:
    """CPU microseconds of one raw coincurve recovery (pre-hashed), over `inputs`."""
    start = _cpu()
    run_coincurve(inputs)
    return (_cpu() - start) * 1e6 / len(inputs)


def run_live(repetitions: int, smoke: bool, rate_per_s: float, publishes: int = LIVE_PUBLISHES,
             engines: Sequence[str] = ENGINES) -> dict[str, object]:
    """Whole node processes, one engine at a time, interleaved; the live part of the report."""
    preset = get_preset(LIVE_PRESET)
    genesis = build_genesis(preset)
    count = SMOKE_LIVE_PUBLISHES if smoke else publishes
    raws = publish_transactions(genesis, count, tag="live")
    inputs = signature_inputs(raws, preset.chain_id)
    publishers = 4  # publish_transactions signs round robin over four bureaus, one per node
    transactions = [(index % publishers, raw, keccak(raw)) for index, raw in enumerate(raws)]
    rounds: list[LiveRound] = []
    for repetition in range(repetitions):
        order = list(engines) if repetition % 2 == 0 else list(reversed(engines))
        for engine in order:
            recovery_us = measure_recovery(inputs)
            rounds.append(measure_live(engine, transactions, rate_per_s, recovery_us))
    return {
        "publishes": count, "rate_per_s": rate_per_s,
        "summary": {engine: {
            "node_us": statistics.median(r.node_us for r in rounds if r.engine == engine),
            "node_recoveries": statistics.median(r.node_us / r.recovery_us for r in rounds
                                                 if r.engine == engine),
            "seconds": statistics.median(r.seconds for r in rounds if r.engine == engine),
        } for engine in engines},
        "rounds": [asdict(r) for r in rounds],
    }


def run(repetitions: int, smoke: bool) -> dict[str, object]:
    """Interleave the engines for `repetitions` rounds; the report."""
    preset = get_preset(PRESET)
    geneses = {engine: build_genesis(preset, engine) for engine in ENGINES}
    size = SMOKE_BLOCK_TRANSACTIONS if smoke else FULL_BLOCK_TRANSACTIONS
    raws = publish_transactions(geneses[NATIVE_ENGINE], size)
    inputs = signature_inputs(raws, preset.chain_id)
    load_before = os.getloadavg()
    rounds: list[Round] = []
    for repetition in range(repetitions):
        order = list(ENGINES) if repetition % 2 == 0 else list(reversed(ENGINES))
        for engine in order:
            recovery_us = measure_recovery(inputs)
            rounds.append(measure_round(geneses[engine], raws, recovery_us))
    load_after = os.getloadavg()
    summary: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        mine = [r for r in rounds if r.engine == engine]
        summary[engine] = {
            "recovery_us": statistics.median(r.recovery_us for r in mine),
            "proposer_us": statistics.median(r.proposer_us for r in mine),
            "follower_admit_us": statistics.median(r.follower_admit_us for r in mine),
            "follower_append_us": statistics.median(r.follower_append_us for r in mine),
            "node_us": statistics.median(r.node_us for r in mine),
            "node_recoveries": statistics.median(r.node_us / r.recovery_us for r in mine),
            "append_recoveries": statistics.median(
                r.follower_append_us / r.recovery_us for r in mine),
            "proposer_recoveries": statistics.median(r.proposer_us / r.recovery_us for r in mine),
        }
    return {
        "machine": describe_machine(),
        "load_before": load_before,
        "load_after": load_after,
        "block_transactions": size,
        "repetitions": repetitions,
        "summary": summary,
        "speedup_node": summary[EVM_ENGINE]["node_us"] / summary[NATIVE_ENGINE]["node_us"],
        "speedup_append": (summary[EVM_ENGINE]["follower_append_us"]
                           / summary[NATIVE_ENGINE]["follower_append_us"]),
        "rounds": [asdict(r) for r in rounds],
    }


def _load(values: object) -> str:
    assert isinstance(values, tuple | list)
    return " / ".join(f"{value:.2f}" for value in values)


def render(report: dict[str, object]) -> str:
    """The report as a Markdown table."""
    summary = report["summary"]
    assert isinstance(summary, dict)
    lines = [
        f"# Storage-state engine: CPU per publish per node ({report['block_transactions']}-"
        f"transaction blocks, {report['repetitions']} interleaved rounds, medians)",
        "",
        str(report["machine"]),
        f"Load average (1, 5, 15 min) before {_load(report['load_before'])}, after "
        f"{_load(report['load_after'])} (other processes may share the machine; CPU time is "
        "per process)",
        "",
        "| engine | recovery µs | proposer µs (× rec.) | follower admit µs | follower append µs "
        "(× rec.) | node µs/publish (× rec.) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for engine, s in summary.items():
        lines.append(
            f"| {engine} | {s['recovery_us']:.1f} | {s['proposer_us']:.0f} "
            f"({s['proposer_recoveries']:.1f}) | {s['follower_admit_us']:.0f} | "
            f"{s['follower_append_us']:.0f} ({s['append_recoveries']:.1f}) | {s['node_us']:.0f} "
            f"({s['node_recoveries']:.1f}) |")
    live = report.get("live")
    if isinstance(live, dict):
        lines += [
            "",
            f"Live local4 (four node processes, {live['publishes']} single publishes by "
            f"eth_sendRawTransaction at {live['rate_per_s']:.0f}/s, CPU of the processes from "
            "/proc, idle included):",
            "",
            "| engine | node µs/publish | recoveries | seconds to commit all |",
            "|---|---:|---:|---:|",
        ]
        for engine, figures in live["summary"].items():
            lines.append(f"| {engine} | {figures['node_us']:.0f} | "
                         f"{figures['node_recoveries']:.1f} | {figures['seconds']:.1f} |")
    native = summary[NATIVE_ENGINE]["node_recoveries"]
    verdict = "meets" if native <= TARGET_RECOVERIES_PER_PUBLISH else "misses"
    lines += [
        "",
        f"Native node CPU per publish: {native:.1f} recoveries ({verdict} the target of "
        f"{TARGET_RECOVERIES_PER_PUBLISH:.0f}); the reference engine costs "
        f"{report['speedup_node']:.1f}x as much per node, {report['speedup_append']:.1f}x per "
        "append (validation, execution and commit).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=FULL_REPETITIONS)
    parser.add_argument("--smoke", action="store_true", help="small blocks, one round")
    parser.add_argument("--output-directory", type=Path, help="write the results here instead")
    parser.add_argument("--live", action="store_true",
                        help="also measure whole node processes of local4 (ports 21800-21803)")
    parser.add_argument("--rate", type=float, default=LIVE_RATE_PER_S,
                        help="offered publishes per second in the live measurement")
    parser.add_argument("--live-publishes", type=int, default=LIVE_PUBLISHES,
                        help="publishes per live round (more for higher rates)")
    parser.add_argument("--live-engines", default=",".join(ENGINES),
                        help="engines of the live measurement, comma-separated")
    arguments = parser.parse_args(argv)
    live_engines = [name for name in arguments.live_engines.split(",") if name]
    if not live_engines or set(live_engines) - set(ENGINES):
        parser.error(f"--live-engines: expected some of {', '.join(ENGINES)}")
    repetitions = 1 if arguments.smoke else max(1, arguments.repetitions)
    report = run(repetitions, arguments.smoke)
    if arguments.live:
        report["live"] = run_live(repetitions, arguments.smoke, arguments.rate,
                                  arguments.live_publishes, live_engines)
    text = render(report)
    sys.stdout.write(text)
    markdown, data = results_path("engine", arguments.smoke)
    if arguments.output_directory is not None:
        arguments.output_directory.mkdir(parents=True, exist_ok=True)
        markdown = arguments.output_directory / markdown.name
        data = arguments.output_directory / data.name
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
