"""The state machine fed by hand: events in, actions out, no network."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest

from chain.consensus import signing
from chain.consensus.actions import (
    Broadcast,
    BuildBlock,
    ExecuteBlock,
    Persist,
    Report,
    ReportKind,
    ScheduleTimeout,
    SendTo,
)
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import InvalidValidatorSetError
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    Event,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.justification import round_skip_target, timeout_ms_for_round
from chain.consensus.messages import Commit, Prepare, Proposal, RoundChange
from chain.consensus.persistence import PersistedState
from chain.consensus.rules import DISPATCH, RULES
from chain.consensus.signing import Signer
from chain.consensus.state import ConsensusState
from chain.consensus.validators import Validator, ValidatorSet
from tests.chain.consensus.harness import Harness
from tests.chain.consensus.keys import GENESIS_HASH, make_validators

BLOCK_A = b"block|a"
BLOCK_B = b"block|b"
HASH_A = bytes([0xA]) * 32
HASH_B = bytes([0xB]) * 32


def machine(
    validators: tuple[ValidatorSet, dict[str, bytes]],
    node_id: str,
    persisted: PersistedState | None = None,
) -> ConsensusState:
    validator_set, seeds = validators
    return ConsensusState(ConsensusConfig(node_id, seeds[node_id], validator_set), persisted)


def test_quorum_arithmetic() -> None:
    expected = {1: (0, 1), 4: (1, 3), 5: (1, 4), 7: (2, 5), 11: (3, 8), 14: (4, 10), 16: (5, 11)}
    for n, (f, quorum) in expected.items():
        validator_set, _ = make_validators(n)
        assert (validator_set.f, validator_set.quorum) == (f, quorum)
        assert quorum == -(-(2 * n + 1) // 3)
        assert 2 * quorum - n >= f + 1, "two quorums share an honest validator"
        assert n - f >= quorum, "honest validators alone form a quorum"


def test_validator_set_refuses_duplicates() -> None:
    validator_set, _ = make_validators(4)
    first = validator_set.validators[0]
    with pytest.raises(InvalidValidatorSetError):
        ValidatorSet((first, first), "chain")
    with pytest.raises(InvalidValidatorSetError):
        ValidatorSet((Validator("x", "Shanghai", b"short"),), "chain")
    with pytest.raises(InvalidValidatorSetError):
        ValidatorSet((), "chain")


def test_proposer_rotation_and_timers() -> None:
    validator_set, _ = make_validators(4)
    ids = validator_set.node_ids()
    assert [validator_set.proposer(1, r).node_id for r in range(4)] == [*ids[1:], ids[0]]
    assert [timeout_ms_for_round(r, 1000, 8000) for r in range(6)] == [
        1000,
        2000,
        4000,
        8000,
        8000,
        8000,
    ]
    assert timeout_ms_for_round(10_000, 1000, 60_000) == 60_000
    assert round_skip_target({"a": 5, "b": 3, "c": 9}, 2, 2) == 5
    assert round_skip_target({"a": 5, "b": 1}, 2, 2) is None


def test_rules_table_lists_sixteen_rules() -> None:
    assert [rule.name.split()[0] for rule in RULES] == [f"R{i}" for i in range(1, 17)]


def test_the_dispatch_table_routes_every_event_to_a_handler_citing_known_rules() -> None:
    assert set(DISPATCH) == set(get_args(Event))
    names = {rule.name.split()[0] for rule in RULES}
    for route in DISPATCH.values():
        assert callable(getattr(ConsensusState, route.handler))
        assert route.rules and set(route.rules) <= names
    cited = {rule for route in DISPATCH.values() for rule in route.rules}
    assert cited == names


def test_idle_height_only_schedules_the_heartbeat(
    validators4: tuple[ValidatorSet, dict[str, bytes]],
) -> None:
    proposer = machine(validators4, "nanjing-1")
    actions = proposer.handle(Start(0, 1, GENESIS_HASH))
    assert actions == [ScheduleTimeout(5_000)]
    assert proposer.handle(Tick(4_999)) == []
    actions = proposer.handle(Tick(5_000))
    assert BuildBlock(1, 0) in actions


def test_pending_transactions_build_at_once(
    validators4: tuple[ValidatorSet, dict[str, bytes]],
) -> None:
    proposer = machine(validators4, "nanjing-1")
    proposer.handle(Start(0, 1, GENESIS_HASH))
    actions = proposer.handle(TransactionsPending(3, 7))
    assert BuildBlock(1, 0) in actions
    actions = proposer.handle(BlockBuilt(1, 0, HASH_A, BLOCK_A))
    kinds = [type(a).__name__ for a in actions if not isinstance(a, ScheduleTimeout)]
    assert kinds == ["Persist", "Broadcast", "Persist", "Broadcast"]
    broadcasts = [a.message for a in actions if isinstance(a, Broadcast)]
    assert isinstance(broadcasts[0], Proposal) and isinstance(broadcasts[1], Prepare)


def test_the_least_block_interval_gathers_transactions_before_building(
    validators4: tuple[ValidatorSet, dict[str, bytes]],
) -> None:
    validator_set, seeds = validators4
    proposer = ConsensusState(ConsensusConfig("nanjing-1", seeds["nanjing-1"], validator_set,
                                              interval_ms_min_block=200))
    proposer.handle(Start(0, 1, GENESIS_HASH))
    actions = proposer.handle(TransactionsPending(1, 7))
    assert BuildBlock(1, 0) not in actions
    assert ScheduleTimeout(200) in actions, "a wake-up at the end of the interval"
    assert BuildBlock(1, 0) not in proposer.handle(TransactionsPending(5, 150))
    assert BuildBlock(1, 0) not in proposer.handle(Tick(199))
    assert BuildBlock(1, 0) in proposer.handle(Tick(200))


def test_persist_precedes_every_broadcast(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 1, GENESIS_HASH))
    proposal = signers4["nanjing-1"].sign(Proposal(1, 0, HASH_A, "", BLOCK_A))
    actions = node.handle(MessageReceived(proposal, 1))
    assert ExecuteBlock(1, 0, HASH_A, BLOCK_A, fresh=True) in actions
    actions = node.handle(BlockExecuted(1, HASH_A, True, 2))
    persist_at = next(i for i, a in enumerate(actions) if isinstance(a, Persist))
    broadcast_at = next(i for i, a in enumerate(actions) if isinstance(a, Broadcast))
    assert persist_at < broadcast_at


def test_drops_unknown_sender_and_bad_signature(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 1, GENESIS_HASH))
    stranger = Signer("wuxi-1", bytes(32), validators4[0].chain_id)
    actions = node.handle(MessageReceived(stranger.sign(Prepare(1, 0, HASH_A, "")), 1))
    assert any(isinstance(a, Report) and "unknown_sender" in a.detail for a in actions)
    forged = dataclasses.replace(
        signers4["nanjing-1"].sign(Prepare(1, 0, HASH_A, "")), signature=bytes(64)
    )
    actions = node.handle(MessageReceived(forged, 1))
    assert any(isinstance(a, Report) and "bad_signature" in a.detail for a in actions)
    old = signers4["nanjing-1"].sign(Prepare(0, 0, HASH_A, ""))
    actions = node.handle(MessageReceived(old, 1))
    assert any(isinstance(a, Report) and "old_height" in a.detail for a in actions)


def test_each_message_is_verified_once(
    validators4: tuple[ValidatorSet, dict[str, bytes]],
    signers4: dict[str, Signer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    real = signing.verify_message

    def counting(message: object, validator_set: ValidatorSet) -> bool:
        calls.append(message)
        return real(message, validator_set)  # type: ignore[arg-type]

    monkeypatch.setattr("chain.consensus.state.verify_message", counting)
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 1, GENESIS_HASH))
    prepare = signers4["nanjing-1"].sign(Prepare(1, 0, HASH_A, ""))
    for _ in range(3):
        node.handle(MessageReceived(prepare, 1))
    assert len(calls) == 1


def test_restart_never_votes_for_a_second_value(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 1, GENESIS_HASH))
    proposal_a = signers4["nanjing-1"].sign(Proposal(1, 0, HASH_A, "", BLOCK_A))
    node.handle(MessageReceived(proposal_a, 1))
    actions = node.handle(BlockExecuted(1, HASH_A, True, 2))
    record = [a.record for a in actions if isinstance(a, Persist)][-1]

    restarted = machine(validators4, "shanghai-1", record)
    restarted.handle(Start(10, 1, GENESIS_HASH))
    proposal_b = signers4["nanjing-1"].sign(Proposal(1, 0, HASH_B, "", BLOCK_B))
    restarted.handle(MessageReceived(proposal_b, 11))
    actions = restarted.handle(BlockExecuted(1, HASH_B, True, 12))
    assert not any(isinstance(a, Broadcast) for a in actions)
    assert any(isinstance(a, Report) and a.kind is ReportKind.VOTE_REFUSED for a in actions)


def test_round_skip_from_far_behind(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 1, GENESIS_HASH))
    for sender in ("nanjing-1", "hangzhou-1"):
        for far_round in (90, 100):
            message = signers4[sender].sign(RoundChange(1, far_round, None, b"", ""))
            node.handle(MessageReceived(message, 5))
    assert node.round == 100
    prepare = signers4["nanjing-1"].sign(Prepare(1, 500, HASH_A, ""))
    actions = node.handle(MessageReceived(prepare, 6))
    assert any(isinstance(a, Report) and "round_too_far" in a.detail for a in actions)


def test_a_node_that_caught_up_hands_its_commit_to_a_laggard(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    """R13 after catch-up: Start names the certificate's round, so the node can help."""
    laggard = signers4["nanjing-1"].sign(RoundChange(1, 3, 0, HASH_A, ""))
    without_round = machine(validators4, "shanghai-1")
    without_round.handle(Start(0, 2, HASH_A))
    assert not any(isinstance(a, SendTo)
                   for a in without_round.handle(MessageReceived(laggard, 5)))
    node = machine(validators4, "shanghai-1")
    node.handle(Start(0, 2, HASH_A, last_round=0))
    sent = [a for a in node.handle(MessageReceived(laggard, 5)) if isinstance(a, SendTo)]
    assert len(sent) == 1 and sent[0].node_id == "nanjing-1"
    commit = sent[0].message
    assert isinstance(commit, Commit)
    assert (commit.height, commit.round, commit.block_hash) == (1, 0, HASH_A)
    assert signing.verify_message(commit, validators4[0])


def test_signing_key_must_match_the_validator_set() -> None:
    validator_set, seeds = make_validators(4)
    with pytest.raises(InvalidValidatorSetError):
        ConsensusState(ConsensusConfig("shanghai-1", seeds["nanjing-1"], validator_set))
    with pytest.raises(InvalidValidatorSetError):
        ConsensusState(ConsensusConfig("wuxi-1", seeds["nanjing-1"], validator_set))


def test_f_plus_one_silent_blocks_progress_until_they_return() -> None:
    harness = Harness(4, seed=11)
    harness.start()
    harness.crash("hangzhou-1", 1)
    harness.crash("hefei-1", 1)
    for at in range(10, 20_000, 500):
        harness.submit_transactions(at, 1)
    harness.run_until(20_000)
    assert all(node.height == 0 for node in harness.nodes.values())
    harness.restart("hangzhou-1", 20_000)
    harness.restart("hefei-1", 20_000)
    assert harness.run_until_height(2, 60_000, harness.node_ids)
    assert harness.agreement_violations() == []


def test_quiet_network_commits_within_milliseconds() -> None:
    harness = Harness(7, seed=12)
    harness.start()
    harness.submit_transactions(100, 10)
    assert harness.run_until_height(1, 200, harness.node_ids)
    assert max(node.commit_times_ms[1] for node in harness.nodes.values()) <= 110


def test_only_a_new_value_is_checked_against_the_clock(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    """ExecuteBlock.fresh (chain.chain_time): a round-1 proposal re-proposing a value a quorum
    prepared in round 0 is not fresh; a round-1 proposal of a new value is."""
    validator_set, _ = validators4
    ids = [v.node_id for v in validator_set.validators]
    proposer = validator_set.proposer(1, 1).node_id
    voter = next(n for n in ids if n != proposer)
    prepares = tuple(signers4[n].sign(Prepare(1, 0, HASH_A, "")) for n in ids[:3])

    def round_changes(prepared: bool) -> tuple[RoundChange, ...]:
        return tuple(signers4[n].sign(
            RoundChange(1, 1, 0, HASH_A, "", prepares) if prepared and n == ids[0]
            else RoundChange(1, 1, None, b"", "")) for n in ids[:3])

    for prepared, block_hash, block, fresh in ((True, HASH_A, BLOCK_A, False),
                                               (False, HASH_B, BLOCK_B, True)):
        node = machine(validators4, voter)
        node.handle(Start(0, 1, GENESIS_HASH))
        proposal = signers4[proposer].sign(
            Proposal(1, 1, block_hash, "", block, round_changes(prepared)))
        actions = node.handle(MessageReceived(proposal, 1))
        assert ExecuteBlock(1, 1, block_hash, block, fresh=fresh) in actions, actions
