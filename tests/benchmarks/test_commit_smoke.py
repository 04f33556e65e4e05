"""The commit benchmark runs in smoke mode and writes its table."""

from __future__ import annotations

import pytest

from benchmarks import commit
from benchmarks.machine import results_path


@pytest.mark.slow
def test_smoke_run_writes_markdown_and_json() -> None:
    assert commit.main(["--smoke"]) == 0
    markdown, data = results_path("commit", smoke=True)
    assert "| local4 | none |" in markdown.read_text(encoding="utf-8")
    assert data.exists()
