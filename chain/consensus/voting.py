"""Voting (R4-R8, R11, R16): execute the accepted block, prepare, lock, commit, decide, and
propose for a new round; every vote this node signs is claimed and persisted first."""

from __future__ import annotations

import hashlib

from chain.consensus.actions import (
    Broadcast,
    BuildBlock,
    CommitBlock,
    ExecuteBlock,
    Persist,
    ReportKind,
)
from chain.consensus.catch_up import CatchUpRules
from chain.consensus.certificate import CommitCertificate
from chain.consensus.justification import highest_prepared
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange, message_kind
from chain.consensus.persistence import PersistedState, VoteKind, VoteRecord
from chain.consensus.quorum import Tally, VoteT
from chain.consensus.signing import message_digest


class VotingRules(CatchUpRules):
    """R4-R8, R11 and R16."""

    def _advance(self) -> None:
        """R5-R7 for the current round: execute, prepare, lock and send COMMIT."""
        proposal = self._at.proposals.get(self._round)
        if proposal is None:
            return
        block_hash = proposal.block_hash
        if block_hash not in self._at.valid:
            block = self._at.blocks.get(block_hash)
            if block is None:
                block = self._learn_block(block_hash, proposal.block)
            if block is not None and block_hash not in self._at.executing:
                self._at.executing[block_hash] = block
                fresh = highest_prepared(proposal.justification) is None
                self._out.append(
                    ExecuteBlock(self._height, self._round, block_hash, block, fresh))
            return
        if self._claim_vote(self._round, VoteKind.PREPARE, block_hash):
            prepare = self._send(Prepare(self._height, self._round, block_hash, self._node_id))
            assert isinstance(prepare, Prepare)
            self._store_vote(self._at.prepares, prepare)
        self._check_prepared(block_hash)

    def _check_prepared(self, block_hash: bytes) -> None:
        """R7: a quorum prepared the accepted value: lock on it and send COMMIT."""
        round_number = self._round
        if (round_number, VoteKind.COMMIT) in self._at.sent:
            return
        prepares = [p for p in self._at.prepares.at(round_number).values()
                    if p.block_hash == block_hash]
        if len(prepares) < self._validators.quorum:
            return
        if not self._claim_vote(round_number, VoteKind.COMMIT, block_hash, persist=False):
            return
        certificate = tuple(sorted(prepares, key=self._position_of)[: self._validators.quorum])
        self._at.prepared = (round_number, block_hash, certificate)
        seal = self._signer.seal(self._height, block_hash)
        self._persist()
        commit = self._send(Commit(self._height, round_number, block_hash, seal, self._node_id))
        assert isinstance(commit, Commit)
        self._store_vote(self._at.commits, commit)
        self._check_decide(round_number, block_hash)

    def _check_decide_hash(self, block_hash: bytes) -> None:
        for round_number in self._at.commits.rounds():
            height = self._height
            self._check_decide(round_number, block_hash)
            if self._height != height:
                return

    def _check_decide(self, round_number: int, block_hash: bytes) -> None:
        """R8: a quorum committed `block_hash`: emit CommitBlock and move on."""
        commits = [c for c in self._at.commits.at(round_number).values()
                   if c.block_hash == block_hash]
        if len(commits) < self._validators.quorum:
            return
        block = self._at.blocks.get(block_hash)
        if block is None:
            peers = [c.sender for c in sorted(commits, key=self._position_of)]
            self._request_sync([p for p in peers if p != self._node_id], "commit_without_block")
            return
        if block_hash not in self._at.valid:
            if block_hash not in self._at.executing:
                self._at.executing[block_hash] = block
                self._out.append(ExecuteBlock(self._height, round_number, block_hash, block))
            return
        seals = tuple(
            (c.sender, c.seal)
            for c in sorted(commits, key=self._position_of)[: self._validators.quorum]
        )
        certificate = CommitCertificate(self._height, round_number, block_hash, seals)
        self._out.append(CommitBlock(self._height, block_hash, block, certificate))
        self._report(
            ReportKind.COMMITTED, f"h={self._height} r={round_number} b={block_hash.hex()[:8]}"
        )
        own = self._at.commits.at(round_number).get(self._node_id)
        self._own_last_commit = own if own is not None and own.block_hash == block_hash else None
        self._last_decided = (self._height, round_number, block_hash)
        self._enter_height(self._height + 1, block_hash)

    def _send_round_change(self) -> None:
        """R9/R10: ask for the current round, reporting the value we are locked on."""
        if self._round in self._at.round_change_sent:
            return
        self._at.round_change_sent.add(self._round)
        if self._at.prepared is None:
            round_change = RoundChange(self._height, self._round, None, b"", self._node_id)
        else:
            prepared_round, block_hash, certificate = self._at.prepared
            round_change = RoundChange(
                self._height,
                self._round,
                prepared_round,
                block_hash,
                self._node_id,
                certificate,
                self._at.blocks.get(block_hash, b""),
            )
        self._persist()
        signed = self._send(round_change)
        assert isinstance(signed, RoundChange)
        self._at.round_changes.put(signed)
        self._at.highest_round_change[self._node_id] = self._round
        self._check_new_round_proposal()

    def _check_new_round_proposal(self) -> None:
        """R11: with a quorum of round changes for our round, the proposer proposes."""
        round_number = self._round
        if round_number == 0 or round_number in self._at.build_requested:
            return
        if self._validators.proposer(self._height, round_number).node_id != self._node_id:
            return
        round_changes = self._at.round_changes.at(round_number)
        if len(round_changes) < self._validators.quorum:
            return
        ordered = sorted(round_changes.values(), key=self._position_of)
        justification = tuple(_strip_block(rc) for rc in ordered)
        highest = highest_prepared(ordered)
        if highest is None:
            self._at.build_requested[round_number] = justification
            self._out.append(BuildBlock(self._height, round_number))
            return
        _, hashes = highest
        if len(hashes) != 1:
            return
        (block_hash,) = hashes
        block = self._at.blocks.get(block_hash)
        if block is None:
            carried = [rc.prepared_block for rc in ordered if rc.prepared_block_hash == block_hash]
            block = next((b for b in carried if b), None)
        if block is None:
            return
        self._at.build_requested[round_number] = justification
        self._propose(round_number, block_hash, block, justification)

    def _propose(
        self,
        round_number: int,
        block_hash: bytes,
        block: bytes,
        justification: tuple[RoundChange, ...],
    ) -> None:
        """R4: persist, then broadcast our proposal and treat it as received."""
        if not self._claim_vote(round_number, VoteKind.PROPOSAL, block_hash):
            return
        if block_hash not in self._at.blocks:
            self._at.blocks[block_hash] = block
        proposal = self._send(
            Proposal(self._height, round_number, block_hash, self._node_id, block, justification)
        )
        assert isinstance(proposal, Proposal)
        self._at.proposals[round_number] = proposal
        self._advance()

    def _claim_vote(
        self, round_number: int, kind: VoteKind, block_hash: bytes, persist: bool = True
    ) -> bool:
        """Record a vote about to be sent; False when already sent or conflicting with a record."""
        key = (round_number, kind)
        if key in self._at.sent:
            return False
        prior = self._at.votes.get(key)
        if prior is not None and prior != block_hash:
            self._at.sent.add(key)
            self._report(
                ReportKind.VOTE_REFUSED,
                f"{kind} h={self._height} r={round_number} persisted={prior.hex()[:8]}",
            )
            return False
        self._at.sent.add(key)
        self._at.votes[key] = block_hash
        if persist and prior is None:
            self._persist()
        return True

    def _persist(self) -> None:
        block_hash = b"" if self._at.prepared is None else self._at.prepared[1]
        record = PersistedState(
            height=self._height,
            round=self._round,
            prepared_round=None if self._at.prepared is None else self._at.prepared[0],
            prepared_block_hash=block_hash,
            prepared_block=self._at.blocks.get(block_hash, b"") if block_hash else b"",
            prepared_certificate=() if self._at.prepared is None else self._at.prepared[2],
            votes=tuple(
                VoteRecord(round_number, kind, value)
                for (round_number, kind), value in sorted(self._at.votes.items())
            ),
        )
        self._out.append(Persist(record))

    def _send(self, message: Message) -> Message:
        signed = self._signer.sign(message)
        self._verified[message_digest(signed, self._validators.chain_id)] = True
        self._out.append(Broadcast(signed))
        return signed

    def _store_vote(self, tally: Tally[VoteT], message: VoteT) -> bool:
        """Count a vote; a second one from its sender is a duplicate or an equivocation (R16)."""
        existing = tally.add(message)
        if existing is None:
            return True
        self._check_equivocation(existing, message)
        return False

    def _check_equivocation(self, existing: Message, message: Message) -> None:
        """R16: report a second, different message of one kind for one (h, r)."""
        if _signed_value(existing) == _signed_value(message):
            self._drop("duplicate", message)
            return
        key = (message.sender, message_kind(message), message.round)
        if key not in self._at.equivocations:
            self._at.equivocations.add(key)
            self._report(
                ReportKind.EQUIVOCATION,
                f"{message_kind(message)} h={message.height} r={message.round} "
                f"from={message.sender}",
            )

    def _learn_block(self, block_hash: bytes, block: bytes) -> bytes | None:
        """Remember block bytes for a hash unless these bytes were already found invalid."""
        known = self._at.blocks.get(block_hash)
        if known is not None:
            return known
        if not block or hashlib.sha256(block).digest() in self._at.invalid_digests:
            return None
        self._at.blocks[block_hash] = block
        return block


def _strip_block(round_change: RoundChange) -> RoundChange:
    """A round change without its block bytes (the proposal carries the block once)."""
    if not round_change.prepared_block:
        return round_change
    return RoundChange(
        round_change.height,
        round_change.round,
        round_change.prepared_round,
        round_change.prepared_block_hash,
        round_change.sender,
        round_change.prepared_certificate,
        b"",
        round_change.signature,
    )


def _signed_value(message: Message) -> tuple[object, ...]:
    """What a sender commits to by signing: equal values are duplicates, not equivocation."""
    if isinstance(message, RoundChange):
        return (message.prepared_round, message.prepared_block_hash)
    return (message.block_hash,)
