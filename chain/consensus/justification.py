"""Pure checks behind the round-change rules: certificates, justifications, round skips.

Each function takes a `verify` callback (the state machine passes its cached signature check) so
the same message is never verified twice, and the functions stay free of caches themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from chain.consensus.messages import Message, Prepare, Proposal, RoundChange
from chain.consensus.validators import ValidatorSet

Verify = Callable[[Message], bool]
"""A signature check: True when the message's sender signed it."""

ROUND_SHIFT_MAX = 32
"""Rounds past this no longer double the timeout (the cap is reached long before)."""


def timeout_ms_for_round(
    round_number: int, timeout_ms_round_base: int, timeout_ms_round_max: int
) -> int:
    """Round timer: base * 2**round, capped at timeout_ms_round_max."""
    shift = min(round_number, ROUND_SHIFT_MAX)
    return min(timeout_ms_round_base << shift, timeout_ms_round_max)


def prepared_certificate_valid(
    height: int,
    round_number: int,
    block_hash: bytes,
    certificate: Iterable[Prepare],
    validator_set: ValidatorSet,
    verify: Verify,
) -> bool:
    """Whether `certificate` holds PREPAREs for (height, round, hash) from a quorum."""
    senders: set[str] = set()
    for prepare in certificate:
        if not isinstance(prepare, Prepare):
            return False
        if (prepare.height, prepare.round, prepare.block_hash) != (
            height,
            round_number,
            block_hash,
        ):
            return False
        if prepare.sender in senders or validator_set.get(prepare.sender) is None:
            return False
        if not verify(prepare):
            return False
        senders.add(prepare.sender)
    return len(senders) >= validator_set.quorum


def round_change_valid(
    round_change: RoundChange, validator_set: ValidatorSet, verify: Verify
) -> bool:
    """Whether a ROUND-CHANGE's prepared claim (if any) is backed by a valid certificate.

    The claim must name a round below the round asked for. The message's own signature is checked
    by the caller.
    """
    if round_change.prepared_round is None:
        return True
    if round_change.prepared_round >= round_change.round:
        return False
    return prepared_certificate_valid(
        round_change.height,
        round_change.prepared_round,
        round_change.prepared_block_hash,
        round_change.prepared_certificate,
        validator_set,
        verify,
    )


def highest_prepared(round_changes: Iterable[RoundChange]) -> tuple[int, frozenset[bytes]] | None:
    """The highest prepared round among the messages and the hashes claimed at that round.

    None when no message carries a prepared value. More than one hash at the highest round can only
    happen when more than f validators are byzantine; callers treat it as unjustifiable.
    """
    best_round = -1
    hashes: set[bytes] = set()
    for round_change in round_changes:
        prepared_round = round_change.prepared_round
        if prepared_round is None or prepared_round < best_round:
            continue
        if prepared_round > best_round:
            best_round = prepared_round
            hashes = set()
        hashes.add(round_change.prepared_block_hash)
    if best_round < 0:
        return None
    return best_round, frozenset(hashes)


def round_change_quorum_valid(
    height: int,
    round_number: int,
    round_changes: Iterable[RoundChange],
    validator_set: ValidatorSet,
    verify: Verify,
) -> bool:
    """Whether the messages are valid ROUND-CHANGEs for (height, round) from a quorum."""
    senders: set[str] = set()
    for round_change in round_changes:
        if not isinstance(round_change, RoundChange):
            return False
        if (round_change.height, round_change.round) != (height, round_number):
            return False
        if round_change.sender in senders or validator_set.get(round_change.sender) is None:
            return False
        if not verify(round_change) or not round_change_valid(round_change, validator_set, verify):
            return False
        senders.add(round_change.sender)
    return len(senders) >= validator_set.quorum


def proposal_justified(proposal: Proposal, validator_set: ValidatorSet, verify: Verify) -> bool:
    """The QBFT justification rule for a proposal.

    Round 0 needs no justification. A later round needs a quorum of valid ROUND-CHANGEs for that
    round; if any of them reports a prepared value, the proposal must carry the value prepared in
    the highest reported round.
    """
    if proposal.round == 0:
        return not proposal.justification
    if not round_change_quorum_valid(
        proposal.height, proposal.round, proposal.justification, validator_set, verify
    ):
        return False
    highest = highest_prepared(proposal.justification)
    if highest is None:
        return True
    _, hashes = highest
    return hashes == frozenset((proposal.block_hash,))


def round_skip_target(
    highest_round_by_sender: Mapping[str, int], current_round: int, weak_quorum: int
) -> int | None:
    """The round to jump to when f + 1 validators asked for rounds above ours.

    Returns the (f + 1)-th highest requested round above `current_round`: at least one honest
    validator is at that round or beyond, so jumping there never outruns the honest majority.
    """
    higher = sorted(
        (r for r in highest_round_by_sender.values() if r > current_round), reverse=True
    )
    if len(higher) < weak_quorum:
        return None
    return higher[weak_quorum - 1]
