"""What a runtime tells the dashboard: typed events, one encoder to the stream's JSON shape.

The runtime builds these values as consensus runs; `encode_runtime_event` is the one place that
turns them into the dict shape of docs/spec/dashboard-events.md (`type`, `node`, `city`,
`time_ms` and each event's fields). Other parts of the node (signed reads, the dashboard's own
controls) publish plain dict events through `NodeRuntime.emit`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class RuntimeEventKind(StrEnum):
    """The `type` of each runtime event on the stream."""

    PROPOSAL = "proposal"
    PROPOSAL_SENT = "proposal_sent"
    VOTE = "vote"
    COMMIT = "commit"
    ROUND_CHANGE = "round_change"
    EQUIVOCATION = "equivocation"
    INVALID_BLOCK = "invalid_block"


@dataclass(frozen=True, slots=True)
class ProposalBuilt:
    """This node built a proposal."""

    height: int
    round: int
    transactions: int
    hash: str

    @property
    def kind(self) -> RuntimeEventKind:
        """PROPOSAL."""
        return RuntimeEventKind.PROPOSAL


@dataclass(frozen=True, slots=True)
class MessageSent:
    """This node broadcast a consensus message (`kind`: proposal, prepare, commit, ...)."""

    kind_of_message: str
    height: int
    round: int

    @property
    def kind(self) -> RuntimeEventKind:
        """PROPOSAL_SENT for a proposal, VOTE for every other message."""
        return (RuntimeEventKind.PROPOSAL_SENT if self.kind_of_message == "proposal"
                else RuntimeEventKind.VOTE)


@dataclass(frozen=True, slots=True)
class BlockCommitted:
    """This node appended a block."""

    height: int
    round: int
    hash: str
    proposer: str
    transactions: int
    state_root: str

    @property
    def kind(self) -> RuntimeEventKind:
        """COMMIT."""
        return RuntimeEventKind.COMMIT


@dataclass(frozen=True, slots=True)
class ConsensusNotice:
    """A round change, an equivocation or an invalid block the state machine reported."""

    notice: RuntimeEventKind
    detail: str
    round: int

    @property
    def kind(self) -> RuntimeEventKind:
        """The notice's kind."""
        return self.notice


RuntimeEvent = ProposalBuilt | MessageSent | BlockCommitted | ConsensusNotice


def encode_runtime_event(event: RuntimeEvent) -> dict[str, Any]:
    """The stream's dict shape of one event (without node, city and time, which emit adds)."""
    if isinstance(event, MessageSent):
        return {"type": event.kind.value, "kind": event.kind_of_message,
                "height": event.height, "round": event.round}
    fields = asdict(event)
    fields.pop("notice", None)
    return {"type": event.kind.value, **fields}
