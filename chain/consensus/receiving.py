"""Incoming consensus messages (R5, R10-R12, R15): check sender, height and signature, then
hand each kind to its rule; messages for the next height are buffered."""

from __future__ import annotations

from chain.consensus.events import MessageReceived
from chain.consensus.justification import proposal_justified, round_change_valid, round_skip_target
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange
from chain.consensus.voting import VotingRules

COUNT_MAX_FUTURE_MESSAGES = 4_096
"""Messages for height + 1 buffered while we finish the current height."""

COUNT_MAX_ROUNDS_AHEAD = 64
"""Proposals and votes further ahead of our round are dropped; round changes that far ahead are
kept one per sender (its highest), so a node far behind can still skip forward (R10)."""


class MessageRules(VotingRules):
    """R5, R10, R11, R12 and R15 for messages."""

    def _on_message_received(self, event: MessageReceived) -> None:
        message = event.message
        if self._validators.get(message.sender) is None:
            self._drop("unknown_sender", message)
            return
        if message.sender == self._node_id:
            self._drop("own_message", message)
            return
        if message.height < self._height:
            if isinstance(message, RoundChange) and message.height == self._height - 1:
                self._help_laggard(message, event.signature_checked)
            else:
                self._drop("old_height", message)
            return
        if not event.signature_checked and not self._verify(message):
            self._drop("bad_signature", message)
            return
        if message.height > self._height:
            self._on_future_message(message)
            return
        self._on_verified_message(message)

    def _on_verified_message(self, message: Message) -> None:
        far = message.round > self._round + COUNT_MAX_ROUNDS_AHEAD
        if far and not isinstance(message, RoundChange):
            self._drop("round_too_far", message)
            return
        if isinstance(message, Proposal):
            self._on_proposal(message)
        elif isinstance(message, Prepare):
            self._on_prepare(message)
        elif isinstance(message, Commit):
            self._on_commit(message)
        else:
            self._on_round_change(message)

    def _on_proposal(self, proposal: Proposal) -> None:
        """R5: accept a justified proposal from the round's proposer."""
        if proposal.sender != self._validators.proposer(self._height, proposal.round).node_id:
            self._drop("wrong_proposer", proposal)
            return
        existing = self._at.proposals.get(proposal.round)
        if existing is not None:
            self._check_equivocation(existing, proposal)
            return
        if not proposal_justified(proposal, self._validators, self._verify):
            self._drop("unjustified", proposal)
            return
        self._at.proposals[proposal.round] = proposal
        self._learn_block(proposal.block_hash, proposal.block)
        self._activate()
        height = self._height
        if proposal.round > self._round:
            self._move_to_round(proposal.round, "proposal", send_round_change=False)
        else:
            self._advance()
        if self._height == height:
            self._check_decide_hash(proposal.block_hash)

    def _on_prepare(self, prepare: Prepare) -> None:
        if not self._store_vote(self._at.prepares, prepare):
            return
        self._activate()
        if prepare.round == self._round:
            self._advance()

    def _on_commit(self, commit: Commit) -> None:
        if not self._store_vote(self._at.commits, commit):
            return
        self._activate()
        self._check_decide(commit.round, commit.block_hash)

    def _on_round_change(self, round_change: RoundChange) -> None:
        """R10/R11: collect round changes; skip ahead or propose for a new round."""
        if round_change.round == 0 or not round_change_valid(
            round_change, self._validators, self._verify
        ):
            self._drop("invalid_round_change", round_change)
            return
        sender = round_change.sender
        previous_highest = self._at.highest_round_change.get(sender, -1)
        if round_change.round > self._round + COUNT_MAX_ROUNDS_AHEAD:
            # Far ahead: keep only the sender's highest, so storage stays bounded per sender.
            if round_change.round <= previous_highest:
                self._drop("round_too_far", round_change)
                return
            if previous_highest > self._round + COUNT_MAX_ROUNDS_AHEAD:
                self._at.round_changes.discard(previous_highest, sender)
        existing = self._at.round_changes.add(round_change)
        if existing is not None:
            self._check_equivocation(existing, round_change)
            return
        if round_change.round > self._at.highest_round_change.get(round_change.sender, -1):
            self._at.highest_round_change[round_change.sender] = round_change.round
        self._activate()
        target = round_skip_target(
            self._at.highest_round_change, self._round, self._validators.weak_quorum
        )
        if target is not None:
            self._move_to_round(target, "round_skip", send_round_change=True)
        else:
            self._check_new_round_proposal()

    def _on_future_message(self, message: Message) -> None:
        """R12: keep messages for the next height; note who is ahead of us."""
        if message.height == self._height + 1:
            if len(self._at.future) < COUNT_MAX_FUTURE_MESSAGES:
                self._at.future.append(message)
            else:
                self._drop("future_buffer_full", message)
        else:
            self._drop("future_height", message)
        if message.height > self._future_heights.get(message.sender, 0):
            self._future_heights[message.sender] = message.height
        self._check_sync()
