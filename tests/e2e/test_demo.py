"""`make demo` on the smallest preset: it runs end to end and stops every node it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chain.presets import get_preset
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
    assert not any("http://" in line for line in lines)  # no URL that is dead once it exits
    assert set(facts["urls"]) == {node.node_id for node in get_preset("local4").nodes}
    for url in facts["urls"].values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/status", timeout=1.0)


def test_a_kept_demo_lists_live_urls_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`make demo KEEP=1`: the URLs it prints answer until SIGTERM, then nothing is left."""
    repository = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "nodes.cli.main", "demo", "--preset", "local4", "--data-dir",
         str(tmp_path), "--keep-running"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=repository, env=dict(os.environ, PYTHONPATH=str(repository)))
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "Ctrl-C stops them" in line:
                break
        urls = [line.split()[-1] for line in lines
                if line.startswith("    ") and line.split()[-1].startswith("http://")]
        assert len(urls) == 4, lines
        for url in urls:
            assert httpx.get(f"{url}/status", timeout=5.0).status_code == 200
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "All nodes stopped." in rest
    assert "Traceback" not in rest
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/status", timeout=1.0)
