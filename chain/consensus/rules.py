"""The protocol as a table: each rule names the event it answers, its condition and its effect.

`RULES` is the prose of the protocol (mirrored in docs/spec/consensus.md); `DISPATCH` maps each
event type to the rules that may fire on it and to the handler of `ConsensusState` that applies
them, and `ConsensusState.handle` dispatches through it, so the table that documents the
protocol is the one that routes its events.
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


RULES: tuple[Rule, ...] = (
    Rule("R1 start", "Start(h)", "enter h at round 0; restore the persisted votes and lock for h"),
    Rule(
        "R2 build",
        "round-0 proposer activated (R3), interval_ms_min_block after h started",
        "BuildBlock(h, 0)",
    ),
    Rule(
        "R3 activate",
        "transactions pending, heartbeat due, or a valid message for h",
        "start the round timer (an idle height keeps it off)",
    ),
    Rule("R4 propose", "BlockBuilt, or a re-proposal ready", "Persist; Broadcast PROPOSAL"),
    Rule(
        "R5 accept",
        "justified PROPOSAL from proposer(h, r), r >= round, first for r",
        "move to r if higher; ExecuteBlock unless the block is known valid",
    ),
    Rule(
        "R6 prepare", "accepted block of the current round is valid", "Persist; Broadcast PREPARE"
    ),
    Rule(
        "R7 lock",
        "quorum PREPARE (h, round, v) for the accepted v",
        "prepared := (round, v, certificate); Persist; Broadcast COMMIT",
    ),
    Rule(
        "R8 decide",
        "quorum COMMIT (h, any r, v), v known and valid",
        "CommitBlock(h, v, certificate); enter h + 1 (block unknown: RequestSync)",
    ),
    Rule(
        "R9 timeout",
        "round timer expires",
        "round += 1; Persist; Broadcast ROUND-CHANGE with the prepared value",
    ),
    Rule(
        "R10 round skip",
        "ROUND-CHANGEs from f + 1 validators for rounds above ours",
        "jump to the (f + 1)-th highest; Persist; Broadcast ROUND-CHANGE",
    ),
    Rule(
        "R11 new round",
        "quorum ROUND-CHANGE for our round r > 0 and we are proposer(h, r)",
        "re-propose the highest prepared value, else BuildBlock(h, r)",
    ),
    Rule(
        "R12 catch up",
        "validators send messages for heights above ours",
        "buffer h + 1 messages; RequestSync after delay_ms_sync_grace (f + 1 of them) "
        "or FACTOR_GRACE_LONE_WITNESS times as long (fewer)",
    ),
    Rule("R13 help laggard", "ROUND-CHANGE for h - 1", "SendTo(sender, our COMMIT for h - 1)"),
    Rule("R14 synced", "BlockSynced(h' >= h)", "enter h' + 1"),
    Rule(
        "R15 drop",
        "unknown sender, bad signature, old height, round too far, unjustified",
        "Report(dropped, reason)",
    ),
    Rule(
        "R16 equivocation",
        "a second, different message of one kind from one sender for (h, r)",
        "Report(equivocation); keep the first",
    ),
)


@dataclass(frozen=True, slots=True)
class Route:
    """Which rules an event type may fire, and the `ConsensusState` method that applies them."""

    rules: tuple[str, ...]
    handler: str


DISPATCH: dict[type, Route] = {
    Start: Route(("R1",), "_on_start"),
    Tick: Route(("R1", "R9", "R12"), "_on_tick"),
    TransactionsPending: Route(("R1",), "_on_transactions_pending"),
    BlockBuilt: Route(("R2",), "_on_block_built"),
    MessageReceived: Route(("R3", "R4", "R5", "R6", "R7", "R8", "R10", "R11", "R12", "R13",
                            "R15", "R16"), "_on_message_received"),
    BlockExecuted: Route(("R5", "R6", "R8"), "_on_block_executed"),
    BlockSynced: Route(("R14",), "_on_block_synced"),
}
"""Event type -> the rules it may fire and the handler (every Event type has one)."""
