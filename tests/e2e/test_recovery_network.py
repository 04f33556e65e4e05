"""A wiped node on real processes (local4): its payloads come back from their designated backup
in another city, and it follows the chain again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.crypto import keccak
from nodes.cluster.network import start_node, stop_node, wait_ready
from nodes.storage.records import LmdbRecordStore
from tests.e2e.network import RunningNetwork, running_network
from tests.e2e.workload import PAYLOADS, PublishWorkload, is_committed, submit

pytestmark = pytest.mark.slow
WIPED = "hefei-1"  # the only node of Hefei: its payloads' second copy lives in another city


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNetwork]:
    with running_network("local4", tmp_path_factory.mktemp("recovery"),
                         base_port=27_130) as running:
        yield running


def test_a_wiped_single_node_city_gets_its_payloads_back_from_the_backup(
        network: RunningNetwork) -> None:
    workload = PublishWorkload(network.preset, network.genesis)
    raw = workload.next_publish("hefei")
    payload_hash = keccak(PAYLOADS[raw].encode("utf-8"))
    transaction = submit(network.client, network.url(WIPED), raw)
    network.wait_for(lambda: all(is_committed(network.client, network.url(n), transaction)
                                 for n in network.node_ids), 60, "the publish committed")
    member = network.member(WIPED)
    stop_node(member)
    node_dir: Path = member.config.data_dir
    for item in node_dir.iterdir():
        if item.name != "node.toml":
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    log = network.data_dir / "logs" / f"{WIPED}.log"
    start_node(member, network.data_dir / "logs")
    wait_ready([member])
    network.wait_for(lambda: network.status(WIPED)["height"]
                     >= network.status("shanghai-1")["height"] - 1, 60, "the wiped node synced")
    network.wait_for(lambda: "restored 1 of 1 missing payloads" in log.read_text(), 60,
                     "the payload restored from its backup")
    stop_node(member)
    with LmdbRecordStore(node_dir / "records") as store:
        assert store.load_payload(payload_hash) == PAYLOADS[raw].encode("utf-8")
