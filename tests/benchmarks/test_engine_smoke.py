"""The engine benchmark runs end to end in smoke mode and writes its table."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import engine, engine_live


def test_smoke_run_compares_both_engines(tmp_path: Path) -> None:
    assert engine.main(["--smoke", "--output-directory", str(tmp_path)]) == 0
    [json_path] = tmp_path.glob("engine-*.json")
    [markdown_path] = tmp_path.glob("engine-*.md")
    table = markdown_path.read_text(encoding="utf-8")
    assert "| native |" in table and "| evm |" in table and "recoveries" in table
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert set(report["summary"]) == {"native", "evm"}
    assert all(figures["node_us"] > figures["recovery_us"] > 0
               for figures in report["summary"].values())


def test_the_live_driver_waits_on_each_bureaus_last_publish() -> None:
    transactions = [(index % 4, b"raw", bytes([index])) for index in range(10)]
    assert engine_live._last_of_each_sender(transactions) == [b"\x08", b"\x09", b"\x06",
                                                              b"\x07"]
