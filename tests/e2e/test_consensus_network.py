"""End to end with real node processes (local4): commit, crash, catch-up, loss of quorum."""

from __future__ import annotations

import time

import pytest

from tests.e2e.network import RunningNetwork
from tests.e2e.workload import PublishWorkload, is_committed, submit

pytestmark = pytest.mark.slow
CITIES = ("shanghai", "nanjing", "hangzhou", "hefei")


def _heights(network: RunningNetwork, node_ids: list[str]) -> dict[str, int]:
    return {node_id: network.status(node_id)["height"] for node_id in node_ids}


def _all_committed(network: RunningNetwork, node_ids: list[str], hashes: list[str]) -> bool:
    return all(is_committed(network.client, network.url(n), h) for n in node_ids for h in hashes)


def _same_head(network: RunningNetwork, node_ids: list[str]) -> bool:
    statuses = [network.status(n) for n in node_ids]
    return len({(s["height"], s["state_root"], s["last_block_hash"]) for s in statuses}) == 1


@pytest.fixture(scope="module")
def workload(local4: RunningNetwork) -> PublishWorkload:
    return PublishWorkload(local4.preset, local4.genesis)


def test_transactions_sent_to_different_nodes_all_commit_everywhere(
        local4: RunningNetwork, workload: PublishWorkload) -> None:
    hashes = []
    for index in range(40):
        node_id = local4.node_ids[index % 4]
        hashes.append(submit(local4.client, local4.url(node_id),
                             workload.next_publish(CITIES[index % 4])))
    local4.wait_for(lambda: _all_committed(local4, local4.node_ids, hashes), 90,
                    "every transaction committed on every node")
    local4.wait_for(lambda: _same_head(local4, local4.node_ids), 30, "equal heads")
    status = local4.status("hefei-1")
    assert status["height"] >= 1
    assert len(status["validators"]) == 4


def test_killed_node_catches_up_and_nothing_committed_is_missing(
        local4: RunningNetwork, workload: PublishWorkload) -> None:
    survivors = ["shanghai-1", "nanjing-1", "hangzhou-1"]
    hashes = [submit(local4.client, local4.url(survivors[i % 3]),
                     workload.next_publish(CITIES[i % 3])) for i in range(10)]
    local4.kill("hefei-1")
    height_at_kill = max(_heights(local4, survivors).values())
    hashes += [submit(local4.client, local4.url(survivors[i % 3]),
                      workload.next_publish(CITIES[i % 3])) for i in range(30)]
    local4.wait_for(lambda: _all_committed(local4, survivors, hashes), 90,
                    "the three survivors commit without hefei-1")
    assert min(_heights(local4, survivors).values()) > height_at_kill
    local4.start("hefei-1")
    local4.wait_for(lambda: _all_committed(local4, local4.node_ids, hashes), 90,
                    "hefei-1 catches up every committed transaction")
    local4.wait_for(lambda: _same_head(local4, local4.node_ids), 60,
                    "hefei-1 reaches the others' height and state root")
    # It rejoins consensus: new transactions commit on all four, hefei-1 included.
    more = [submit(local4.client, local4.url("hefei-1"), workload.next_publish("hefei"))]
    local4.wait_for(lambda: _all_committed(local4, local4.node_ids, more), 60,
                    "a transaction sent to the restarted node commits everywhere")


def test_without_quorum_nothing_commits_and_the_network_resumes(
        local4: RunningNetwork, workload: PublishWorkload) -> None:
    local4.stop("hangzhou-1")
    local4.stop("hefei-1")
    alive = ["shanghai-1", "nanjing-1"]
    before = _heights(local4, alive)
    pending = submit(local4.client, local4.url("shanghai-1"), workload.next_publish("shanghai"))
    time.sleep(6.0)
    assert _heights(local4, alive) == before, "two of four validators must not commit"
    assert not is_committed(local4.client, local4.url("shanghai-1"), pending)
    local4.start("hangzhou-1")
    local4.start("hefei-1")
    local4.wait_for(lambda: _all_committed(local4, local4.node_ids, [pending]), 120,
                    "the pending transaction commits once quorum returns")
    local4.wait_for(lambda: _same_head(local4, local4.node_ids), 60, "equal heads")


def test_gapped_transactions_cause_no_storm_of_empty_blocks(
        local4: RunningNetwork, workload: PublishWorkload) -> None:
    """Transactions behind a nonce gap are parked, not work: only the heartbeat makes blocks
    (main made 76 blocks in 20 s with one gapped transaction)."""
    label = "bureau:hefei"
    workload.nonces[label] = workload.nonces.get(label, 0) + 50  # leave a gap of 50 nonces
    for _ in range(5):
        submit(local4.client, local4.url("hefei-1"), workload.next_publish("hefei"))
    start = _heights(local4, ["hefei-1"])["hefei-1"]
    time.sleep(12.0)
    made = _heights(local4, ["hefei-1"])["hefei-1"] - start
    assert made <= 12.0 / 5.0 + 2, f"{made} blocks in 12 s with only gapped transactions"
    assert local4.status("hefei-1")["mempool"] >= 5  # parked, not dropped before they expire
