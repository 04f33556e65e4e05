"""Two seeded kill-all cycles under load on real node processes (local4): no committed or
acknowledged transaction lost, no divergence, the network resumes. `make chaos` runs ten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial.kill_all import RESUME_TIMEOUT_S, run_cycles

pytestmark = pytest.mark.slow


def test_two_kill_all_cycles_lose_nothing_committed(tmp_path: Path) -> None:
    results = run_cycles(cycles=2, seed=11, base_port=27_120, data_dir=tmp_path)
    for result in results:
        assert result.committed_before > 0, result
        assert result.lost == [], result
        assert result.acknowledged_lost == [], result
        assert result.divergent_heights == [], result
        assert result.height_after > result.height_before
        assert result.resume_s < RESUME_TIMEOUT_S
