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


def test_a_report_on_a_target_network_says_what_it_could_not_see() -> None:
    phase = {"name": "max", "classes": ["QueryUser"], "users": 4, "seconds": 3.0,
             "requests": 300, "failures": 0, "requests_per_s": 100.0, "p50_ms": 20.0,
             "p99_ms": 90.0, "rows": [], "memory_mib": {},
             "cpu": {"nodes_percent": 0.0, "locust_percent": 12.0,
                     "locust_busiest_process_percent": 12.0, "machine_percent": 50.0},
             "saturated": "unknown for the nodes (not on this machine)",
             "load_average": [1.0, 1.0, 1.0, 1.0]}
    report = {"preset": "local4", "size": "smoke", "seed": 1, "machine": "a machine",
              "workers": 0, "users": 4, "latency": "target",
              "target": ["http://127.0.0.1:8600", "http://127.0.0.1:8601"],
              "dataset": {"size": {"enterprises": 32, "records": 256, "granted": 32},
                          "load": None},
              "phases": [phase], "plots": [], "output": "benchmarks/results/x",
              "metrics": {"yrd_query_signature_verifications_total": 1.0,
                          "yrd_payload_remote_fetches_total": 0.0,
                          "yrd_rate_limited_total": 0.0},
              "cache": {"sender_cache_hit_rate": 0.5, "consent_cache_hit_rate": 0.5}}
    text = query.render(report, "python -m benchmarks.query --target …")
    assert "Target network (not started here; nodes' CPU not sampled): " \
           "http://127.0.0.1:8600, http://127.0.0.1:8601." in text
    assert "loaded into the target network earlier." in text
    [row] = [line for line in text.splitlines() if line.startswith("| max")]
    assert row.split(" | ")[8] == "-"  # the nodes' CPU column
    assert query.result_name(0, target=True) == "query-target"
    assert query.result_name(2, target=True) == "query-target-w2"
