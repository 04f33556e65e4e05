"""The protocol as a table: each rule names the event it answers, its condition and its effect.

`RULES` is the protocol (mirrored in docs/spec/consensus.md): each row names the event types it
fires on. `DISPATCH` is read off those rows: each event type with the rules that may fire on it
and the handler of `ConsensusState` that applies them; `ConsensusState.handle` dispatches through
it, so the table that documents the protocol is the one that routes its events.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    BlockSynced,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rules table (mirrored in docs/spec/consensus.md)."""

    name: str
    upon: str
    then: str
    events: tuple[type, ...]
    """The event types on which the rule may fire: the dispatch table is read off these."""


RULES: tuple[Rule, ...] = (
    Rule("R1 start", "Start(h)", "enter h at round 0; restore the persisted votes and lock for h",
         (Start, Tick, TransactionsPending)),
    Rule(
        "R2 build",
        "round-0 proposer activated (R3), interval_ms_min_block after h started",
        "BuildBlock(h, 0)",
        (BlockBuilt,),
    ),
    Rule(
        "R3 activate",
        "transactions pending, heartbeat due, or a valid message for h",
        "start the round timer (an idle height keeps it off)",
        (MessageReceived,),
    ),
    Rule("R4 propose", "BlockBuilt, or a re-proposal ready", "Persist; Broadcast PROPOSAL",
         (MessageReceived,)),
    Rule(
        "R5 accept",
        "justified PROPOSAL from proposer(h, r), r >= round, first for r",
        "move to r if higher; ExecuteBlock unless the block is known valid",
        (MessageReceived, BlockExecuted),
    ),
    Rule(
        "R6 prepare", "accepted block of the current round is valid", "Persist; Broadcast PREPARE",
        (MessageReceived, BlockExecuted),
    ),
    Rule(
        "R7 lock",
        "quorum PREPARE (h, round, v) for the accepted v",
        "prepared := (round, v, certificate); Persist; Broadcast COMMIT",
        (MessageReceived,),
    ),
    Rule(
        "R8 decide",
        "quorum COMMIT (h, any r, v), v known and valid",
        "CommitBlock(h, v, certificate); enter h + 1 (block unknown: RequestSync)",
        (MessageReceived, BlockExecuted),
    ),
    Rule(
        "R9 timeout",
        "round timer expires",
        "round += 1; Persist; Broadcast ROUND-CHANGE with the prepared value",
        (Tick,),
    ),
    Rule(
        "R10 round skip",
        "ROUND-CHANGEs from f + 1 validators for rounds above ours",
        "jump to the (f + 1)-th highest; Persist; Broadcast ROUND-CHANGE",
        (MessageReceived,),
    ),
    Rule(
        "R11 new round",
        "quorum ROUND-CHANGE for our round r > 0 and we are proposer(h, r)",
        "re-propose the highest prepared value, else BuildBlock(h, r)",
        (MessageReceived,),
    ),
    Rule(
        "R12 catch up",
        "validators send messages for heights above ours",
        "buffer h + 1 messages; RequestSync after delay_ms_sync_grace (f + 1 of them) "
        "or FACTOR_GRACE_LONE_WITNESS times as long (fewer)",
        (Tick, MessageReceived),
    ),
    Rule("R13 help laggard", "ROUND-CHANGE for h - 1", "SendTo(sender, our COMMIT for h - 1)",
         (MessageReceived,)),
    Rule("R14 synced", "BlockSynced(h' >= h)", "enter h' + 1", (BlockSynced,)),
    Rule(
        "R15 drop",
        "unknown sender, bad signature, old height, round too far, unjustified",
        "Report(dropped, reason)",
        (MessageReceived,),
    ),
    Rule(
        "R16 equivocation",
        "a second, different message of one kind from one sender for (h, r)",
        "Report(equivocation); keep the first",
        (MessageReceived,),
    ),
)


@dataclass(frozen=True, slots=True)
class Route:
    """Which rules an event type may fire, and the `ConsensusState` method that applies them."""

    rules: tuple[str, ...]
    handler: str


HANDLERS: dict[type, str] = {
    Start: "_on_start",
    Tick: "_on_tick",
    TransactionsPending: "_on_transactions_pending",
    BlockBuilt: "_on_block_built",
    MessageReceived: "_on_message_received",
    BlockExecuted: "_on_block_executed",
    BlockSynced: "_on_block_synced",
}
"""Event type -> the `ConsensusState` method that applies the rules firing on it."""

DISPATCH: dict[type, Route] = {
    event: Route(tuple(rule.name.split()[0] for rule in RULES if event in rule.events), handler)
    for event, handler in HANDLERS.items()
}
"""Event type -> the rules it may fire (read off the rules table) and the handler (every Event
type has one)."""
