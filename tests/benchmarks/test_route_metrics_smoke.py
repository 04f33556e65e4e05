"""The route-metrics benchmark runs in smoke mode: both apps answer every report with 200."""

from __future__ import annotations

import json

from benchmarks import route_metrics
from benchmarks.machine import RESULTS_DIRECTORY


def test_smoke_run_times_both_apps_and_writes_its_table() -> None:
    assert route_metrics.main(["--smoke"]) == 0
    [data] = sorted((RESULTS_DIRECTORY / "smoke").glob("route-metrics-*.json"))[-1:]
    report = json.loads(data.read_text(encoding="utf-8"))
    assert report["median_us_with_route_metrics"] > 0 and report["median_us_without"] > 0
    assert report["ratio"] > 0 and len(report["load_average"]) == 3
