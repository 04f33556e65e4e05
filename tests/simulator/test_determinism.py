"""Same (scenario, seed) -> byte-identical metrics.json; another seed -> another run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from simulator.cli import main
from simulator.metrics import encode_metrics
from tests.simulator.helpers import SCENARIOS, load_test_scenario, run


def test_same_seed_gives_identical_metrics_files(tmp_path: Path) -> None:
    scenario_file = str(SCENARIOS / "local4-small.toml")
    for name in ("a", "b"):
        assert main([scenario_file, "--seed", "11", "--out", str(tmp_path / name)]) == 0
    first = (tmp_path / "a" / "metrics.json").read_bytes()
    assert first == (tmp_path / "b" / "metrics.json").read_bytes()
    assert b"wall" not in first
    for name in ("report.html", "throughput.png", "commit_latency_cdf.png",
                 "query_latency_heatmap.png", "block_interval.png", "round_changes.png",
                 "run-info.json"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    report = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report and "Every invariant held" in report


def test_different_seeds_give_different_traces() -> None:
    scenario = load_test_scenario("local4-small").with_duration(3)
    first, second = run(scenario, 1), run(scenario, 2)
    assert first.violation is None and second.violation is None
    assert first.trace != second.trace
    assert encode_metrics(first.metrics) != encode_metrics(second.metrics)


def test_a_run_commits_queries_and_audits() -> None:
    result = run(load_test_scenario("local4-small"), 5)
    metrics = result.metrics
    assert result.violation is None
    assert metrics["transactions"]["committed"] > 20
    assert metrics["queries"]["outcomes"].get("served", 0) > 5
    assert metrics["invariants"]["queries_audited"] == metrics["queries"]["outcomes"]["served"]
    assert metrics["transactions"]["reverted_by_kind"].get("publish", 0) == 0
    assert len({n["height"] for n in metrics["nodes"].values()}) <= 2


def test_shared_verification_is_reported_and_keeps_invariants() -> None:
    scenario = dataclasses.replace(load_test_scenario("local4-small").with_duration(2),
                                   verification="shared")
    result = run(scenario, 4)
    assert result.violation is None
    assert result.metrics["run"]["verification"] == "shared"
    assert result.metrics["blocks"]["height"] > 0
