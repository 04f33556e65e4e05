"""The one running-network helper: attach to a network by URL, and benchmarks aimed at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import commit, dataset
from nodes.cluster.running import TargetError, attach_network, read_target
from tests.e2e.network import RunningNetwork

pytestmark = pytest.mark.slow


def test_attach_reads_preset_nodes_and_cities_from_status(local4: RunningNetwork) -> None:
    urls = [local4.url(node_id) for node_id in local4.node_ids]
    with attach_network(urls) as attached:
        assert not attached.started_here and local4.started_here
        assert attached.preset.name == "local4"
        assert attached.node_ids == local4.node_ids
        assert {node.city for node in attached.nodes} == {
            local4.preset.node(node_id).city.value for node_id in local4.node_ids}
        assert attached.home_urls() == local4.home_urls()
    # leaving an attached network stops nothing
    assert all(local4.status(node_id)["node_id"] == node_id for node_id in local4.node_ids)


def test_a_target_that_does_not_answer_or_repeats_a_node_is_refused(
        local4: RunningNetwork) -> None:
    with pytest.raises(TargetError, match="did not answer"):
        read_target(["http://127.0.0.1:9"], timeout_s=0.5)
    first = local4.url(local4.node_ids[0])
    with pytest.raises(TargetError, match="given twice"):
        read_target([first, first], timeout_s=5.0)


def test_commit_benchmark_and_loader_target_a_running_network(local4: RunningNetwork,
                                                              tmp_path: Path) -> None:
    urls = [local4.url(node_id) for node_id in local4.node_ids]
    height = int(local4.status(local4.node_ids[0])["height"])
    figures = commit.measure("ignored", "ignored", seconds=2.0, rate=10.0, target=urls)
    assert (figures.preset, figures.latency) == ("local4", "target")
    assert figures.refused == 0 and figures.committed == figures.submitted > 0
    assert int(local4.status(local4.node_ids[0])["height"]) > height
    run_file = tmp_path / "run.json"
    size = dataset.DatasetSize("tiny", enterprises=8, records=16, granted=8)
    loaded = dataset.load_into(size, 3, urls, run_file, progress=False)
    assert (loaded.records, loaded.grants) == (16, 8)
    assert '"preset": "local4"' in run_file.read_text(encoding="utf-8")
