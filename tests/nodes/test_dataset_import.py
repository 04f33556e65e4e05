"""The offline import on a fresh network directory: a batch that reverts stops it, named."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.genesis import build_genesis
from chain.presets import get_preset
from nodes.cluster.network import write_network
from nodes.dataset.offline_import import open_offline_network
from nodes.dataset.plan import DatasetSize, make_plan

PRESET = get_preset("local4")


def test_a_reverted_batch_stops_the_import_with_its_reason(tmp_path: Path) -> None:
    write_network(PRESET, tmp_path, 24_990, "none")
    plan = make_plan(PRESET, build_genesis(PRESET).contracts, DatasetSize("t", 8, 8, 8), 2)
    city = plan.cities()[0]
    with open_offline_network(tmp_path, "local4") as offline:
        # grants before their enterprises' keys are registered: executed, and reverted
        offline.submit(list(plan.grants(city, offline.next_nonce(f"bank:{city}"))))
        with pytest.raises(RuntimeError, match="reverted: unknown enterprise"):
            offline.settle()
        heights = set(offline.heights().values())
        assert heights == {1}  # certified and committed by every node all the same
