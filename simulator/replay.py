"""Violations: a minimal fault schedule that still trips the invariant, and files to replay it.

When a run breaks an invariant, `shrink_faults` tries the scenario again without each fault in
turn (stopping just after the violation's time) and keeps every removal after which the same
invariant still breaks; the result is verified by the last re-run. `write_violation` stores the
seed, the violation, the last dispatched events before it (`trace.txt`) and `replay.toml`, a
scenario file that reproduces it with `yrdchain simulate replay.toml --seed N`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import tomli_w

from simulator.invariants import Violation
from simulator.scenario import Scenario, parse_scenario
from simulator.simulation import RunResult, Simulation

COUNT_MAX_SHRINK_RUNS = 8
"""Re-runs spent looking for a smaller fault schedule."""

MARGIN_S_AFTER_VIOLATION = 1.0
"""A replay runs this long past the violation's time."""


def scenario_to_toml(scenario: Scenario) -> str:
    """The scenario as a TOML manifest (what `parse_scenario` reads)."""
    head: dict[str, Any] = {
        "name": scenario.name, "preset": scenario.preset, "duration_s": scenario.duration_s,
        "description": scenario.description, "execution": scenario.execution,
        "verification": scenario.verification, "expect_violation": scenario.expect_violation,
    }
    workload = _plain(dataclasses.asdict(scenario.workload))
    document: dict[str, Any] = {
        "scenario": head,
        "network": _plain(dataclasses.asdict(scenario.network)),
        "workload": workload,
        "cpu": _plain(dataclasses.asdict(scenario.cpu)),
        "consensus": _plain(dataclasses.asdict(scenario.consensus)),
    }
    faults = []
    for fault in scenario.faults:
        values = {k: v for k, v in _plain(dataclasses.asdict(fault)).items()
                  if v not in (None, [], 0.0, "")}
        values["at_s"] = fault.at_s
        faults.append(values)
    if faults:
        document["faults"] = faults
    return tomli_w.dumps(document)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def truncated(scenario: Scenario, violation: Violation) -> Scenario:
    """The scenario cut just after the violation."""
    end_s = math.ceil(violation.time_ms / 1000 + MARGIN_S_AFTER_VIOLATION)
    return scenario.with_duration(min(scenario.duration_s, float(end_s)))


def shrink_faults(scenario: Scenario, seed: int, violation: Violation) -> Scenario:
    """Drop faults that are not needed to trip the same invariant (greedy, bounded)."""
    best = truncated(scenario, violation)
    runs = 0
    index = 0
    while index < len(best.faults) and runs < COUNT_MAX_SHRINK_RUNS:
        candidate = dataclasses.replace(best, faults=best.faults[:index] + best.faults[index + 1:])
        runs += 1
        result = Simulation(candidate, seed).run()
        if result.violation is not None and result.violation.invariant == violation.invariant:
            best = truncated(candidate, result.violation)
        else:
            index += 1
    return best


def write_violation(out_dir: Path, scenario: Scenario, seed: int, result: RunResult,
                    minimal: Scenario) -> None:
    """violation.json, trace.txt and replay.toml."""
    violation = result.violation
    assert violation is not None
    replay_text = scenario_to_toml(dataclasses.replace(minimal, source=""))
    parse_scenario(replay_text, "replay.toml")
    (out_dir / "replay.toml").write_text(replay_text, encoding="utf-8")
    (out_dir / "trace.txt").write_text(
        "".join(f"{time_ms:12.3f} ms  {text}\n" for time_ms, text in result.trace),
        encoding="utf-8")
    document = {
        "scenario": scenario.name,
        "seed": seed,
        "invariant": violation.invariant,
        "detail": violation.detail,
        "time_s": round(violation.time_ms / 1000, 3),
        "height": violation.height,
        "faults_needed": len(minimal.faults),
        "replay": f"yrdchain simulate replay.toml --seed {seed}",
    }
    (out_dir / "violation.json").write_text(json.dumps(document, indent=1, sort_keys=True)
                                            + "\n", encoding="utf-8")
