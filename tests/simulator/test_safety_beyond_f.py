"""f + 1 colluding equivocators break safety, and the checker catches it and can replay it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from simulator.cli import main
from simulator.scenario import load_scenario
from tests.simulator.helpers import SCENARIOS, load_test_scenario, run


def test_two_colluding_equivocators_on_four_nodes_trip_agreement() -> None:
    result = run(load_test_scenario("local4-colluding-equivocators"), 2)
    assert result.violation is not None
    assert result.violation.invariant in ("agreement", "state_root")
    assert result.metrics["invariants"]["violation"]["invariant"] == result.violation.invariant


def test_one_equivocator_on_four_nodes_is_tolerated() -> None:
    scenario = load_test_scenario("local4-colluding-equivocators")
    faults = tuple(dataclasses.replace(f, nodes=f.nodes[:1]) for f in scenario.faults)
    result = run(dataclasses.replace(scenario, faults=faults, expect_violation=False), 2)
    assert result.violation is None
    assert result.metrics["consensus_reports"].get("equivocation", 0) > 0


def test_violation_files_replay_it(tmp_path: Path) -> None:
    scenario_file = str(SCENARIOS / "local4-colluding-equivocators.toml")
    assert main([scenario_file, "--seed", "2", "--out", str(tmp_path / "run")]) == 0
    violation = json.loads((tmp_path / "run" / "violation.json").read_text())
    assert violation["seed"] == 2 and violation["faults_needed"] == 1
    assert (tmp_path / "run" / "trace.txt").read_text().strip()
    replay = load_scenario(tmp_path / "run" / "replay.toml")
    assert replay.duration_s < 12
    again = run(replay, 2)
    assert again.violation is not None
    assert again.violation.detail == violation["detail"]

