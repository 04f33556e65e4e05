"""The signature benchmark runs in smoke mode, live cache run included, and writes its table."""

from __future__ import annotations

import json

import pytest

from benchmarks import sig
from benchmarks.machine import RESULTS_DIRECTORY


def test_every_path_verifies_its_inputs() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        for run in sig.build_paths(8, pool).values():
            run(0, 8)


@pytest.mark.slow
def test_smoke_run_writes_rates_ratios_and_cache_hit_rates() -> None:
    assert sig.main(["--smoke"]) == 0
    [data] = sorted((RESULTS_DIRECTORY / "smoke").glob("sig-*.json"))[-1:]
    report = json.loads(data.read_text(encoding="utf-8"))
    assert set(report["rates"]) == set(sig.LABELS)
    assert report["live"]["requests"] > 0
    assert 0 <= report["live"]["consent_cache_hit_rate"] <= 1
    assert "consent cache" in data.with_suffix(".md").read_text(encoding="utf-8")
