"""The query benchmark runs every Locust phase in smoke mode and writes its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import query
from benchmarks.machine import RESULTS_DIRECTORY


@pytest.mark.slow
def test_smoke_run_writes_table_locust_reports_and_plots() -> None:
    assert query.main(["--smoke"]) == 0
    [data] = sorted((RESULTS_DIRECTORY / "smoke").glob("query-*.json"))[-1:]
    report = json.loads(data.read_text(encoding="utf-8"))
    assert [p["name"] for p in report["phases"]] == ["max", "at80", "enterprise", "status",
                                                     "mixed"]
    assert all(p["requests"] > 0 for p in report["phases"])
    assert any(row["name"].startswith("report ") and "->" in row["name"]
               for row in report["phases"][0]["rows"])
    output = RESULTS_DIRECTORY.parent.parent / report["output"]
    for name in ("max_stats.csv", "max_stats_history.csv", "max.html", "at80.html",
                 "requests-per-second.png", "latency.png"):
        assert (output / name).exists(), name
    assert Path(data.with_suffix(".md")).read_text(encoding="utf-8").count("| max") == 1
