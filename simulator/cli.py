"""`yrdchain simulate`: run a scenario and write metrics.json, plots and report.html.

    yrdchain simulate SCENARIO.toml [--seed N] [--out DIR] [--duration S]
    yrdchain simulate --list

SCENARIO is a file or the name of a shipped scenario (`yrdchain simulate --list`). The progress
bar goes to stderr. metrics.json depends only on (scenario, seed); the wall-clock time and the
speed ratio go to stdout and to run-info.json. A run that breaks an invariant exits with status
3 after writing violation.json, trace.txt and replay.toml (unless the scenario expects it).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from simulator.metrics import encode_metrics
from simulator.plots import all_plots
from simulator.replay import shrink_faults, write_violation
from simulator.report import render_report
from simulator.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from simulator.simulation import ProgressCallback, Simulation

EXIT_VIOLATION = 3
EXIT_BAD_SCENARIO = 2
WIDTH_PROGRESS_BAR = 40
WIDTH_LIST_SUMMARY = 72
COUNT_PROFILE_ENTRIES = 30


def _progress_printer(stream: TextIO) -> ProgressCallback:
    """A bar redrawn in place on a terminal; one plain line per tenth anywhere else (logs, CI)."""
    started = time.monotonic()
    on_terminal = stream.isatty()
    tenths_said: set[int] = set()

    def show(done_s: float, total_s: float) -> None:
        share = done_s / total_s if total_s else 1.0
        wall = time.monotonic() - started
        if not on_terminal:
            tenth = int(share * 10)
            if tenth not in tenths_said:
                tenths_said.add(tenth)
                print(f"{share:4.0%} {done_s:7.1f}/{total_s:g} s simulated, {wall:6.1f} s wall",
                      file=stream, flush=True)
            return
        filled = int(share * WIDTH_PROGRESS_BAR)
        bar = "#" * filled + "." * (WIDTH_PROGRESS_BAR - filled)
        print(f"\r[{bar}] {share:4.0%} {done_s:7.1f}/{total_s:g} s simulated, "
              f"{wall:6.1f} s wall", end="", file=stream, flush=True)

    return show


def _write_profile(profiler: cProfile.Profile, path: Path) -> None:
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("tottime").print_stats(COUNT_PROFILE_ENTRIES)
    stats.sort_stats("cumulative").print_stats(COUNT_PROFILE_ENTRIES)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def list_scenarios() -> str:
    """One line per shipped scenario."""
    lines = []
    for name, text in shipped_scenarios().items():
        scenario = parse_scenario(text, name)
        first = scenario.description.split(". ")[0].replace("\n", " ").strip()
        if len(first) > WIDTH_LIST_SUMMARY:
            first = first[: WIDTH_LIST_SUMMARY - 1].rstrip() + "…"
        lines.append(f"{name:<28} {scenario.preset:<9} {scenario.duration_s:>5g} s  {first}")
    return "\n".join(lines)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="yrdchain simulate",
                                     description="Run a deterministic network simulation.")
    parser.add_argument("scenario", nargs="?", help="scenario file or shipped scenario name")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default sim-out/<scenario>-<seed>)")
    parser.add_argument("--duration", type=float, default=None,
                        help="override the duration in simulated seconds")
    parser.add_argument("--compress", action="store_true",
                        help="with --duration: scale fault and burst times to the new length")
    parser.add_argument("--shared-verification", action="store_true",
                        help="verify each consensus message once per broadcast instead of at "
                             "every receiver (cheaper; reported)")
    parser.add_argument("--per-node-execution", action="store_true",
                        help="every node runs py-evm for every block (slower)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="on a violation, do not search for a smaller fault schedule")
    parser.add_argument("--profile", action="store_true",
                        help="run under cProfile and write profile.txt (slower)")
    parser.add_argument("--list", action="store_true", help="list the shipped scenarios")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.list:
        print(list_scenarios())
        return 0
    if not arguments.scenario:
        print("yrdchain simulate: give a scenario (or --list)", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    try:
        scenario = load_scenario(arguments.scenario)
    except ScenarioError as error:
        print(f"yrdchain simulate: {error}", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    if arguments.duration is not None:
        scenario = (scenario.compressed(arguments.duration) if arguments.compress
                    else scenario.with_duration(arguments.duration))
    if arguments.shared_verification:
        scenario = dataclasses.replace(scenario, verification="shared")
    if arguments.per_node_execution:
        scenario = dataclasses.replace(scenario, execution="per-node")
    out_dir = arguments.out or Path("sim-out") / f"{scenario.name}-{arguments.seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    started_cpu = time.process_time()
    simulation = Simulation(scenario, arguments.seed, _progress_printer(sys.stderr))
    profiler = cProfile.Profile() if arguments.profile else None
    if profiler is not None:
        profiler.enable()
    result = simulation.run()
    if profiler is not None:
        profiler.disable()
        _write_profile(profiler, out_dir / "profile.txt")
    wall_s = time.monotonic() - started
    cpu_s = time.process_time() - started_cpu
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the bar's line
    (out_dir / "metrics.json").write_bytes(encode_metrics(result.metrics))
    plots = all_plots(result.metrics, [(f.at_s, f.kind) for f in scenario.faults])
    for name, data in plots.items():
        (out_dir / name).write_bytes(data)
    (out_dir / "report.html").write_text(render_report(scenario, result.metrics, plots),
                                         encoding="utf-8")
    ratio = scenario.duration_s / wall_s if wall_s > 0 else float("inf")
    run_info = {"wall_seconds": round(wall_s, 3), "cpu_seconds": round(cpu_s, 3),
                "simulated_seconds": scenario.duration_s, "speed_ratio": round(ratio, 3),
                "speed_ratio_cpu": round(scenario.duration_s / cpu_s, 3) if cpu_s else None,
                "events": result.events}
    (out_dir / "run-info.json").write_text(json.dumps(run_info, indent=1) + "\n",
                                           encoding="utf-8")
    print(f"{scenario.name} seed {arguments.seed}: {scenario.duration_s:g} s simulated in "
          f"{wall_s:.1f} s wall ({ratio:.2f}x real time; {cpu_s:.1f} s CPU), "
          f"{result.events:,} events -> {out_dir}")
    if result.violation is None:
        return 0
    violation = result.violation
    print(f"invariant {violation.invariant} broken at {violation.time_ms / 1000:.3f} s: "
          f"{violation.detail}")
    minimal = scenario if arguments.no_shrink else shrink_faults(scenario, arguments.seed,
                                                                 violation)
    write_violation(out_dir, scenario, arguments.seed, result, minimal)
    print(f"replay: yrdchain simulate {out_dir / 'replay.toml'} --seed {arguments.seed}")
    return 0 if scenario.expect_violation else EXIT_VIOLATION


if __name__ == "__main__":
    raise SystemExit(main())
