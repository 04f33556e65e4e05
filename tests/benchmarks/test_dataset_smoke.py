"""The data set: a valid seeded plan, and a smoke snapshot built through real transactions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import dataset
from chain.enterprise import parse_credit_code
from chain.presets import get_preset


def test_plan_is_seeded_valid_and_covers_every_city_pair() -> None:
    preset = get_preset("local4")
    size = dataset.DatasetSize("test", enterprises=64, records=650, granted=32)
    planned = dataset.plan_enterprises(preset, size, seed=7)
    assert planned == dataset.plan_enterprises(preset, size, seed=7)
    assert planned != dataset.plan_enterprises(preset, size, seed=8)
    assert len({p.code.code for p in planned}) == 64
    assert all(parse_credit_code(p.code.code) == p.code for p in planned)
    assert sum(p.records for p in planned) == 650
    granted = [p for p in planned if p.bank]
    assert len(granted) == 32
    pairs = {(p.bank, p.code.city.value) for p in granted}
    assert len(pairs) >= len(preset.cities) * 2


@pytest.mark.slow
def test_smoke_snapshot_is_built_once_and_restores(tmp_path: Path) -> None:
    snapshot = dataset.ensure_snapshot("local4", dataset.SIZES["smoke"], 1, progress=False)
    manifest = json.loads((snapshot.directory / dataset.MANIFEST_NAME).read_text("utf-8"))
    load = manifest["load"]
    size = dataset.SIZES["smoke"]
    assert load["records"] == size.records and load["grants"] == size.granted
    assert load["records_per_s"] > 0
    assert dataset.ensure_snapshot("local4", size, 1).directory == snapshot.directory
    members = dataset.restore_snapshot(snapshot, tmp_path / "network")
    assert {m.config.node_id for m in members} == {n.node_id for n in get_preset("local4").nodes}
    assert all((tmp_path / "network" / m.config.node_id / "chain").is_dir() for m in members)
