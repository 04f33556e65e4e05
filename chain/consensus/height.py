"""What a validator knows about the height it is deciding; all of it is dropped at the next one.

`ConsensusState` keeps one `HeightState` and replaces it when it enters a height (R1, R8, R14),
so nothing of an old height can leak into a new one. Fields that outlive a height (the last
decision, who is ahead, the verification cache, the signing key) stay on `ConsensusState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange
from chain.consensus.persistence import VoteKind
from chain.consensus.quorum import Tally


@dataclass(slots=True)
class HeightState:
    """The working state of one height (mutable: the state machine updates it in place).

    started_ms: when the node entered the height (block interval and heartbeat timers).
    timer_at_ms: the round timer's expiry, None while the height is idle.
    pending: transactions the application reported pending.
    proposals: the accepted proposal of each round.
    blocks / valid / invalid_digests / executing: block bytes by hash, the hashes the
      application found valid, digests of blocks found invalid, executions in flight.
    prepares / commits / round_changes: the vote tallies; highest_round_change: each
      sender's highest round change (round skip, R10).
    votes / sent / round_change_sent: what this node signed (persisted), and sent.
    prepared: the locked value (round, block hash, its PREPARE certificate).
    build_requested: rounds for which a block was requested, with their justification.
    equivocations: (sender, kind, round) already reported (R16).
    future: verified messages for the next height, replayed on entering it (R12).
    sync_since_ms: since when enough validators are known to be ahead (R12).
    laggard_replies: (sender, round) of laggards already answered (R13).
    """

    started_ms: int
    timer_at_ms: int | None = None
    pending: int = 0
    proposals: dict[int, Proposal] = field(default_factory=dict)
    blocks: dict[bytes, bytes] = field(default_factory=dict)
    valid: set[bytes] = field(default_factory=set)
    invalid_digests: set[bytes] = field(default_factory=set)
    executing: dict[bytes, bytes] = field(default_factory=dict)
    prepares: Tally[Prepare] = field(default_factory=Tally)
    commits: Tally[Commit] = field(default_factory=Tally)
    round_changes: Tally[RoundChange] = field(default_factory=Tally)
    highest_round_change: dict[str, int] = field(default_factory=dict)
    votes: dict[tuple[int, VoteKind], bytes] = field(default_factory=dict)
    sent: set[tuple[int, VoteKind]] = field(default_factory=set)
    round_change_sent: set[int] = field(default_factory=set)
    prepared: tuple[int, bytes, tuple[Prepare, ...]] | None = None
    build_requested: dict[int, tuple[RoundChange, ...]] = field(default_factory=dict)
    equivocations: set[tuple[str, str, int]] = field(default_factory=set)
    future: list[Message] = field(default_factory=list)
    sync_since_ms: int | None = None
    laggard_replies: set[tuple[str, int]] = field(default_factory=set)
