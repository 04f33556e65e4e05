"""`make demo` on the smallest preset: it runs end to end and stops every node it started."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nodes.cli.demo import run_network_demo

pytestmark = pytest.mark.slow


def test_the_network_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    lines: list[str] = []
    facts = run_network_demo("local4", data_dir=tmp_path, say=lines.append)
    text = "\n".join(lines)
    assert "refused: 403 consent_missing" in text
    assert "hangzhou-1 <- shanghai-1 (shanghai)" in text
    assert "checked against the chain: True" in text
    assert facts["proof"]["verified"] is True
    assert facts["dispute"]["status"] == "rejected"
    assert all(item["payload_status"] == "verified"
               for report in facts["reports"] for item in report["records"])
    assert lines[-1] == "All nodes stopped."
    url = next(line.split()[-1] for line in lines if line.strip().startswith("shanghai-1"))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/status", timeout=1.0)
