"""Vote tallies: the messages of one kind a node holds at its current height, by round and sender.

Like etcd's `quorum/` package, counting is kept apart from the rules that act on the counts:
the state machine asks a tally for the votes matching a block at a round and compares their
number with the validator set's quorum. A tally keeps the first message of each sender per
round; a second one is handed back so the caller can tell a duplicate from an equivocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from chain.consensus.messages import Commit, Prepare, RoundChange

VoteT = TypeVar("VoteT", Prepare, Commit, RoundChange)


class Tally(Generic[VoteT]):
    """round -> sender -> the first message of that sender for that round."""

    __slots__ = ("_by_round",)

    def __init__(self) -> None:
        self._by_round: dict[int, dict[str, VoteT]] = {}

    def add(self, message: VoteT) -> VoteT | None:
        """Keep `message` unless its sender already voted at its round; then return that vote."""
        by_sender = self._by_round.setdefault(message.round, {})
        existing = by_sender.get(message.sender)
        if existing is None:
            by_sender[message.sender] = message
        return existing

    def put(self, message: VoteT) -> None:
        """Keep `message`, replacing its sender's vote at its round (the node's own)."""
        self._by_round.setdefault(message.round, {})[message.sender] = message

    def discard(self, round_number: int, sender: str) -> None:
        """Forget one sender's vote at one round."""
        self._by_round.get(round_number, {}).pop(sender, None)

    def at(self, round_number: int) -> Mapping[str, VoteT]:
        """The votes of one round by sender (empty when none)."""
        return self._by_round.get(round_number, {})

    def rounds(self) -> list[int]:
        """Rounds with at least one vote slot, ascending."""
        return sorted(self._by_round)

