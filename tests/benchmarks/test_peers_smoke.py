"""yrdchain next to Hardhat and ganache in smoke mode (skipped without node/npm packages)."""

from __future__ import annotations

import json

import pytest

from benchmarks import peers
from benchmarks.machine import RESULTS_DIRECTORY
from tests.tools import missing_tool


@pytest.mark.slow
def test_smoke_run_measures_every_target_and_writes_ratios() -> None:
    missing = peers.peer_tools_missing()
    if missing is not None:
        missing_tool(f"peers benchmark needs Hardhat and ganache: {missing}")
    assert peers.main(["--smoke", "--senders", "2", "--in-flight", "8"]) == 0
    [data] = sorted((RESULTS_DIRECTORY / "smoke").glob("peers-*.json"))[-1:]
    report = json.loads(data.read_text(encoding="utf-8"))
    targets = {rate["target"] for rate in report["rates"]}
    assert targets == {"yrdchain", "hardhat", "ganache"}
    assert all(rate["operations"] > 0 for rate in report["rates"])
    assert any("hardhat" in name for name in report["ratios"])
    assert (report["senders"], report["in_flight"]) == (2, 8)
    publishes = [rate for rate in report["rates"]
                 if rate["operation"] == "eth_sendRawTransaction -> receipt"]
    assert len(publishes) == 3 and all(rate["errors"] == 0 for rate in publishes)
