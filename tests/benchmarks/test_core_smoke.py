"""The ledger-core benchmark runs end to end in smoke mode and writes its table."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import core


def test_smoke_run_writes_markdown_and_json(tmp_path: Path) -> None:
    assert core.main(["--smoke", "--seconds", "0", "--output-directory", str(tmp_path)]) == 0
    [json_path] = tmp_path.glob("core-*-smoke.json")
    [markdown_path] = tmp_path.glob("core-*-smoke.md")
    table = markdown_path.read_text(encoding="utf-8")
    for label in ("(a) coincurve", "(b) decode_transaction", "(c) eth_account", "(e)",
                  "(b)/(a)", "(b)/(c)", "(e)/(b)", "proposer tx/s"):
        assert label in table
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["smoke"] is True
    assert report["transactions"] == core.SMOKE.transactions
    assert set(report["rates"]) == {"a", "b", "c", "e", "e_admit_many"}
    assert [block["size"] for block in report["blocks"]] == list(core.SMOKE.block_sizes)
    for key in ("platform", "nproc", "python", "cpu_model"):
        assert report["machine"][key]
    assert all(rate["wall_us"] > 0 for rate in report["rates"].values())
