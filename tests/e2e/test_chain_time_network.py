"""Honest chain time on real node processes: one validator's clock a day fast (local4).

The skewed validator's proposals are refused by the three honest ones (the round changes), so no
committed block carries its timestamp; it follows the chain through certified blocks, which it
never checks against its own clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.chain_time import DRIFT_MS_AHEAD
from tests.e2e.network import RunningNetwork, running_network
from tests.e2e.workload import PublishWorkload, is_committed, submit

pytestmark = pytest.mark.slow
DAY_MS = 86_400_000
SKEWED = "nanjing-1"
BASE_PORT = 27_010


@pytest.fixture(scope="module")
def skewed_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNetwork]:
    data_dir: Path = tmp_path_factory.mktemp("skewed")
    with running_network("local4", data_dir, base_port=BASE_PORT,
                         clock_skews_ms={SKEWED: DAY_MS}) as network:
        yield network


def test_a_validator_a_day_fast_cannot_move_chain_time(skewed_network: RunningNetwork) -> None:
    network = skewed_network
    workload = PublishWorkload(network.preset, network.genesis)
    for wave in range(5):  # one block per wave at least: round-0 proposers rotate over all four
        node_id = network.node_ids[wave % 4]
        city = network.preset.node(node_id).city.value
        hashes = [submit(network.client, network.url(node_id), workload.next_publish(city))
                  for _ in range(2)]
        network.wait_for(lambda hashes=hashes: all(  # type: ignore[misc]
            is_committed(network.client, network.url("shanghai-1"), h) for h in hashes),
            60, f"wave {wave} committed")
    network.wait_for(lambda: network.status(SKEWED)["height"]
                     >= network.status("shanghai-1")["height"] - 1, 60,
                     "the skewed validator follows the chain")
    now_ms = int(time.time() * 1000)
    head = network.status("shanghai-1")["height"]
    previous = 0
    proposers = set()
    for height in range(1, head + 1):
        block = network.client.get(f"{network.url('hefei-1')}/v1/blocks/{height}").json()
        assert previous < block["timestamp_ms"] <= now_ms + DRIFT_MS_AHEAD, block
        previous = block["timestamp_ms"]
        proposers.add(block["proposer"])
    assert head >= 5
    assert SKEWED not in proposers
