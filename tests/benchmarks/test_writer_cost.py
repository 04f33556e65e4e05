"""The writer-cost benchmark (benchmarks/writer_cost.py) on a real node with one read worker."""

from __future__ import annotations

import json

import pytest

from benchmarks import writer_cost
from benchmarks.machine import RESULTS_DIRECTORY
from nodes.cluster.network import find_free_base_port


@pytest.mark.slow
def test_a_small_run_drives_admit_and_audit_pairs_through_the_writer_link() -> None:
    assert writer_cost.main(["--requests", "200", "--in-flight", "8",
                             "--port-base", str(find_free_base_port(8))]) == 0
    [data] = sorted((RESULTS_DIRECTORY / "smoke").glob("writer-cost-*.json"))[-1:]
    report = json.loads(data.read_text(encoding="utf-8"))
    assert report["requests"] == 200 and report["in_flight"] == 8
    assert report["pairs_per_s"] > 0
    assert report["writer_cpu_us_per_pair"] > 0  # the writer did the work, not the driver
