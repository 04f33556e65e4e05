"""Actions returned by the consensus state machine for the runtime to carry out.

The runtime performs them in list order. Ordering rule: a `Persist` always comes before the
`Broadcast`/`SendTo` whose message depends on it, so saving the record before sending keeps a
restarted node from voting twice in one round.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chain.consensus.certificate import CommitCertificate
from chain.consensus.messages import Message
from chain.consensus.persistence import PersistedState


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `message` to every other validator (the sender has already processed it)."""

    message: Message


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send `message` to one validator."""

    node_id: str
    message: Message


@dataclass(frozen=True, slots=True)
class BuildBlock:
    """Ask the application for a candidate block at (height, round); answer with BlockBuilt."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ExecuteBlock:
    """Ask the application to check a proposed block; answer with BlockExecuted.

    fresh: the block is a new proposal to vote on (not a re-proposal of a value a quorum prepared,
    nor a value a quorum committed): the application also checks its timestamp against its own
    clock (chain.chain_time's drift rule).
    """

    height: int
    round: int
    block_hash: bytes
    block: bytes
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """The block is final: append it with its certificate. Consensus moves to height + 1."""

    height: int
    block_hash: bytes
    block: bytes
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class Persist:
    """Save `record` durably (replacing the previous one) before sending later messages."""

    record: PersistedState


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Deliver Tick(now_ms >= at_ms) once the clock reaches `at_ms`."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class RequestSync:
    """Fetch committed blocks from `from_height` on from `peer_node_id`; report BlockSynced."""

    from_height: int
    peer_node_id: str


class ReportKind(StrEnum):
    """What a Report counts or observes."""

    DROPPED = "dropped"
    """A message was ignored; detail says why (bad_signature, unknown_sender, old_height, ...)."""
    EQUIVOCATION = "equivocation"
    """A validator signed two different messages of one kind for one (height, round)."""
    ROUND_CHANGE = "round_change"
    """This node moved to a new round; detail says why (timeout, round_skip, proposal)."""
    INVALID_BLOCK = "invalid_block"
    """The application rejected a proposed block."""
    COMMITTED = "committed"
    """A block was decided at this node."""
    SYNC_REQUESTED = "sync_requested"
    """A RequestSync was issued."""
    VOTE_REFUSED = "vote_refused"
    """A vote was withheld because the persisted record holds a different vote for the round."""


@dataclass(frozen=True, slots=True)
class Report:
    """A counter or observation for metrics and logs; no behaviour depends on it."""

    kind: ReportKind
    detail: str


Action = (
    Broadcast
    | SendTo
    | BuildBlock
    | ExecuteBlock
    | CommitBlock
    | Persist
    | ScheduleTimeout
    | RequestSync
    | Report
)
"""Any action the state machine returns."""
