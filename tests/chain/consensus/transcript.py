"""One-line descriptions of consensus events, actions, messages and persisted records.

The golden transcripts (testdata/*.txt) are made of these lines; changing one changes every
golden file, so treat this module like a wire format.
"""

from __future__ import annotations

from chain.consensus.actions import (
    Action,
    Broadcast,
    BuildBlock,
    CommitBlock,
    ExecuteBlock,
    Persist,
    RequestSync,
    ScheduleTimeout,
    SendTo,
)
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    Event,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.messages import Message, Proposal, RoundChange, message_kind
from chain.consensus.persistence import PersistedState


def short_hash(value: bytes) -> str:
    """First 8 hex digits of a hash, or "-" when empty."""
    return value.hex()[:8] if value else "-"


def describe_message(message: Message) -> str:
    """One-line summary of a message for transcripts."""
    text = (
        f"{message_kind(message)} h={message.height} r={message.round} "
        f"b={short_hash(getattr(message, 'block_hash', b''))}"
    )
    if isinstance(message, RoundChange):
        prepared = "-" if message.prepared_round is None else str(message.prepared_round)
        text = (
            f"RoundChange h={message.height} r={message.round} pr={prepared} "
            f"pb={short_hash(message.prepared_block_hash)} cert={len(message.prepared_certificate)}"
        )
    elif isinstance(message, Proposal) and message.justification:
        text += f" just={len(message.justification)}"
    return f"{text} from={message.sender}"


def describe_record(record: PersistedState | None) -> str:
    """One-line summary of a persisted record."""
    if record is None:
        return "none"
    prepared = "-" if record.prepared_round is None else str(record.prepared_round)
    votes = ",".join(f"{v.kind}@{v.round}:{short_hash(v.block_hash)}" for v in record.votes)
    return (
        f"h={record.height} r={record.round} pr={prepared} "
        f"pb={short_hash(record.prepared_block_hash)} votes={votes or '-'}"
    )


def describe_event(event: Event) -> str:
    """One-line summary of an event for transcripts."""
    if isinstance(event, MessageReceived):
        return describe_message(event.message)
    if isinstance(event, Start):
        return f"Start h={event.height} last={short_hash(event.last_block_hash)}"
    if isinstance(event, Tick):
        return "Tick"
    if isinstance(event, BlockBuilt):
        return f"BlockBuilt h={event.height} r={event.round} b={short_hash(event.block_hash)}"
    if isinstance(event, BlockExecuted):
        verdict = "valid" if event.valid else "invalid"
        return f"BlockExecuted h={event.height} b={short_hash(event.block_hash)} {verdict}"
    if isinstance(event, TransactionsPending):
        return f"TransactionsPending {event.count}"
    return f"BlockSynced h={event.height} b={short_hash(event.block_hash)}"


def describe_action(action: Action) -> str:
    """One-line summary of an action for transcripts."""
    if isinstance(action, Broadcast):
        return f"Broadcast {describe_message(action.message)}"
    if isinstance(action, SendTo):
        return f"SendTo {action.node_id} {describe_message(action.message)}"
    if isinstance(action, BuildBlock):
        return f"BuildBlock h={action.height} r={action.round}"
    if isinstance(action, ExecuteBlock):
        return f"ExecuteBlock h={action.height} r={action.round} b={short_hash(action.block_hash)}"
    if isinstance(action, CommitBlock):
        return (
            f"CommitBlock h={action.height} b={short_hash(action.block_hash)} "
            f"r={action.certificate.round} seals={len(action.certificate.seals)}"
        )
    if isinstance(action, Persist):
        return f"Persist {describe_record(action.record)}"
    if isinstance(action, ScheduleTimeout):
        return f"ScheduleTimeout {action.at_ms}"
    if isinstance(action, RequestSync):
        return f"RequestSync from={action.from_height} peer={action.peer_node_id}"
    return f"Report {action.kind} {action.detail}"
