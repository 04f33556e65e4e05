"""Golden transcript tests: replay a scenario, compare every event and action line by line.

Regenerate after a deliberate protocol change with `UPDATE_GOLDEN=1 pytest tests/chain/consensus`
and review the diff of testdata/*.txt like code.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.consensus.messages import Commit, Message, Prepare, Proposal
from simulator.byzantine_actions import ByzantineKind
from tests.chain.consensus.harness import Harness, NetworkConditions

Golden = Callable[[str, list[str]], None]


def test_normal_commit(golden: Golden) -> None:
    harness = Harness(4, seed=1)
    harness.start()
    harness.submit_transactions(10, 5)
    assert harness.run_until_height(1, 1_000)
    harness.run_until(harness.now_ms + 5)
    assert harness.agreement_violations() == []
    assert all(node.mempool == 0 for node in harness.nodes.values())
    golden("normal_commit", harness.transcript)


def test_idle_network_stays_quiet() -> None:
    harness = Harness(4, seed=2)
    harness.start()
    harness.run_until(4_999)
    assert all(node.height == 0 for node in harness.nodes.values())
    assert not any(line for line in harness.transcript if "Broadcast" in line)
    harness.run_until(5_100)
    assert all(node.height == 1 for node in harness.nodes.values())


def test_proposer_crash_and_round_change(golden: Golden) -> None:
    harness = Harness(4, seed=3)
    proposer = harness.validator_set.proposer(1, 0).node_id
    assert proposer == "nanjing-1"
    harness.start()
    harness.crash(proposer, 1)
    harness.submit_transactions(10, 3)
    harness.restart(proposer, 2_000)
    harness.submit_transactions(2_100, 2, [n for n in harness.node_ids if n != proposer])
    assert harness.run_until_height(2, 10_000, harness.node_ids)
    harness.run_until(harness.now_ms + 5)
    assert harness.agreement_violations() == []
    assert harness.nodes["shanghai-1"].chain[0][1] is not None
    assert harness.nodes["shanghai-1"].chain[0][1].round == 1
    # the restarted proposer fetches the block it missed from a peer before it rejoins
    assert any(f"{proposer} sync from" in line for line in harness.transcript)
    golden("proposer_crash", harness.transcript)


def test_equivocating_proposer(golden: Golden) -> None:
    harness = Harness(4, seed=4)
    harness.set_byzantine("nanjing-1", ByzantineKind.EQUIVOCATE)
    harness.start()
    harness.submit_transactions(10, 4)
    assert harness.run_until_height(1, 10_000)
    harness.run_until(harness.now_ms + 5)
    assert harness.agreement_violations() == []
    detected = sum(harness.nodes[n].reports["equivocation"] for n in harness.honest_ids())
    assert detected >= 1
    golden("equivocating_proposer", harness.transcript)


def test_late_and_duplicate_votes(golden: Golden) -> None:
    conditions = NetworkConditions(delay_ms_min=1, delay_ms_max=40, duplicate_probability=0.4)
    harness = Harness(4, seed=5, conditions=conditions)
    harness.start()
    harness.submit_transactions(10, 2)
    harness.submit_transactions(60, 2)
    assert harness.run_until_height(2, 5_000)
    harness.run_until(harness.now_ms + 60)
    assert harness.agreement_violations() == []
    reports = [line for line in harness.transcript if "Report dropped duplicate" in line]
    late = [line for line in harness.transcript if "Report dropped old_height" in line]
    assert reports
    assert late
    golden("late_and_duplicate_votes", harness.transcript)


def test_locked_value_carried_into_next_round(golden: Golden) -> None:
    harness = Harness(4, seed=6)
    locked_nodes = {"shanghai-1", "hangzhou-1"}

    def drop(now_ms: int, sender: str, receiver: str, message: Message) -> bool:
        if message.round != 0:
            return False
        if isinstance(message, Commit):
            return True
        return isinstance(message, Prepare) and receiver not in locked_nodes

    harness.drop_rule = drop
    harness.start()
    harness.submit_transactions(10, 3)
    assert harness.run_until_height(1, 10_000)
    harness.run_until(harness.now_ms + 5)
    assert harness.agreement_violations() == []
    round_zero = [line for line in harness.transcript if "Broadcast Proposal h=1 r=0" in line]
    round_one = [line for line in harness.transcript if "Broadcast Proposal h=1 r=1" in line]
    assert len(round_zero) == 1 and len(round_one) == 1
    block_of = {line.split(" b=")[1].split()[0] for line in (*round_zero, *round_one)}
    assert len(block_of) == 1, "round 1 must re-propose the value locked in round 0"
    certificate = harness.nodes["hefei-1"].chain[0][1]
    assert certificate is not None and certificate.round == 1
    golden("locked_value_next_round", harness.transcript)


def test_proposal_type_is_used_in_transcripts() -> None:
    harness = Harness(4, seed=7)
    harness.start()
    harness.submit_transactions(1, 1)
    harness.run_until(50)
    assert any(Proposal.__name__ in line for line in harness.transcript)
