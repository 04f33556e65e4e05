"""The consensus state machine: a QBFT variant, sans-I/O.

`ConsensusState.handle(event) -> list[Action]` is the whole interface. The object's only side
effect is on its own fields; it never reads a clock, touches a socket or spawns a thread.
The table `RULES` (chain/consensus/rules.py) is the protocol, and its `DISPATCH` routes each event
to the handler here that applies the rules; each handler cites them (R1..R16).
n validators tolerate f = (n - 1) // 3 faults with quorum q = n - f (see
docs/spec/consensus.md for the safety and liveness arguments).
"""

from __future__ import annotations

import hashlib

from chain.consensus.actions import (
    Action,
    Broadcast,
    BuildBlock,
    CommitBlock,
    ExecuteBlock,
    Persist,
    Report,
    ReportKind,
    RequestSync,
    ScheduleTimeout,
    SendTo,
)
from chain.consensus.certificate import CommitCertificate
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import InvalidValidatorSetError
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    BlockSynced,
    Event,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.height import HeightState
from chain.consensus.justification import (
    highest_prepared,
    proposal_justified,
    round_change_valid,
    round_skip_target,
    timeout_ms_for_round,
)
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange, message_kind
from chain.consensus.persistence import PersistedState, VoteKind, VoteRecord
from chain.consensus.quorum import Tally, VoteT
from chain.consensus.rules import DISPATCH
from chain.consensus.signing import Signer, message_digest, verify_message

COUNT_MAX_FUTURE_MESSAGES = 4_096
"""Messages for height + 1 buffered while we finish the current height."""

COUNT_MAX_VERIFICATION_CACHE = 65_536
"""Signature results remembered by message digest (about 3 MiB)."""

COUNT_MAX_ROUNDS_AHEAD = 64
"""Proposals and votes further ahead of our round are dropped; round changes that far ahead are
kept one per sender (its highest), so a node far behind can still skip forward (R10)."""

COUNT_MAX_LAGGARD_REPLIES = 1_024
"""Replies to laggards per height (R13)."""

FACTOR_GRACE_LONE_WITNESS = 4
"""Fewer than f + 1 validators ahead: wait this many sync graces before fetching from them
(a byzantine one can cost a fetch per retry interval, never a wrong block)."""


class ConsensusState:
    """One validator's consensus: feed events to `handle`, carry out the returned actions."""

    def __init__(self, config: ConsensusConfig, persisted: PersistedState | None = None) -> None:
        validators = config.validator_set
        member = validators.get(config.node_id)
        if member is None:
            raise InvalidValidatorSetError(f"{config.node_id!r} is not in the validator set")
        self._config = config
        self._validators = validators
        self._node_id = config.node_id
        self._signer = Signer(config.node_id, config.signing_key_seed, validators.chain_id)
        if self._signer.public_key != member.public_key:
            raise InvalidValidatorSetError(
                f"{config.node_id!r}: signing key does not match the validator set's public key"
            )
        self._restore: PersistedState | None = persisted
        self._verified: dict[bytes, bool] = {}
        self._out: list[Action] = []
        self._replay: list[Message] = []
        self._scheduled: set[int] = set()
        self._started = False
        self._now_ms = 0
        self._height = 0
        self._round = 0
        self._last_block_hash = b""
        self._last_decided: tuple[int, int, bytes] | None = None
        self._own_last_commit: Commit | None = None
        self._future_heights: dict[str, int] = {}
        self._sync_requested_ms: int | None = None
        self._sync_grace_ms = config.delay_ms_sync_grace
        self._sync_attempts = 0
        self._reset_height()

    # --- read-only views ---------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        """This validator's node id."""
        return self._node_id

    @property
    def height(self) -> int:
        """The height being decided."""
        return self._height

    @property
    def round(self) -> int:
        """The current round at this height."""
        return self._round

    @property
    def prepared_round(self) -> int | None:
        """Round of the value this node is locked on at this height, if any."""
        return None if self._at.prepared is None else self._at.prepared[0]

    # --- entry point -------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; return the actions to perform, in order."""
        now_ms = getattr(event, "now_ms", None)
        if now_ms is not None and now_ms > self._now_ms:
            self._now_ms = now_ms
        route = DISPATCH[type(event)]
        if not self._started and not isinstance(event, Start):
            self._report(ReportKind.DROPPED, f"not_started {type(event).__name__}")
        else:
            getattr(self, route.handler)(event)
        while self._replay and self._started:
            message = self._replay.pop(0)
            if message.height == self._height:
                self._on_verified_message(message)
        if self._started:
            self._schedule_wakeup()
        out, self._out = self._out, []
        return out

    # --- heights and rounds ------------------------------------------------------------------

    def _reset_height(self) -> None:
        self._at = HeightState(self._now_ms)

    def _enter_height(self, height: int, last_block_hash: bytes) -> None:
        """R1/R8/R14: start deciding `height`; replay buffered messages for it."""
        buffered = [m for m in self._at.future if m.height == height]
        self._reset_height()
        self._height = height
        self._round = 0
        self._last_block_hash = last_block_hash
        self._replay = buffered

    def _on_start(self, event: Start) -> None:
        self._started = True
        self._last_decided = self._decided_before(event.height, event.last_round,
                                                  event.last_block_hash)
        self._enter_height(event.height, event.last_block_hash)
        record, self._restore = self._restore, None
        if record is not None and record.height == event.height:
            self._round = record.round
            self._at.votes = {(v.round, v.kind): v.block_hash for v in record.votes}
            if record.prepared_round is not None:
                self._at.prepared = (
                    record.prepared_round,
                    record.prepared_block_hash,
                    record.prepared_certificate,
                )
                if record.prepared_block:
                    self._at.blocks[record.prepared_block_hash] = record.prepared_block
            if self._round > 0:
                self._activate()

    def _timeout_ms(self, round_number: int) -> int:
        return timeout_ms_for_round(
            round_number, self._config.timeout_ms_round_base, self._config.timeout_ms_round_max
        )

    def _activate(self) -> None:
        """R3: there is work at this height: run the round timer (and R2: build if proposer)."""
        if self._at.timer_at_ms is None:
            self._at.timer_at_ms = self._now_ms + self._timeout_ms(self._round)
        self._check_build()

    def _check_build(self) -> None:
        """R2: the round-0 proposer asks the application for a block once there is work."""
        if self._round != 0 or self._at.timer_at_ms is None:
            return
        if self._validators.proposer(self._height, 0).node_id != self._node_id:
            return
        if 0 in self._at.build_requested or (0, VoteKind.PROPOSAL) in self._at.votes:
            return
        if self._now_ms < self._at.started_ms + self._config.interval_ms_min_block:
            return  # R2: gather transactions until the least block interval has passed
        self._at.build_requested[0] = ()
        self._out.append(BuildBlock(self._height, 0))

    def _move_to_round(self, round_number: int, reason: str, send_round_change: bool) -> None:
        """R5/R9/R10: enter a higher round and restart its timer."""
        if round_number <= self._round:
            return
        self._round = round_number
        self._at.timer_at_ms = self._now_ms + self._timeout_ms(round_number)
        self._report(ReportKind.ROUND_CHANGE, f"{reason} h={self._height} r={round_number}")
        if send_round_change:
            self._send_round_change()
        height = self._height
        self._advance()
        if self._height == height:
            self._check_new_round_proposal()

    # --- events ------------------------------------------------------------------------------

    def _on_tick(self, _: Tick) -> None:
        now = self._now_ms
        self._scheduled = {at for at in self._scheduled if at > now}
        if (
            self._at.timer_at_ms is None
            and now >= self._at.started_ms + self._config.interval_ms_empty_block
        ):
            self._activate()
        if self._at.timer_at_ms is not None and now >= self._at.timer_at_ms:
            self._move_to_round(self._round + 1, "timeout", send_round_change=True)
        elif self._at.timer_at_ms is not None:
            self._check_build()
        self._check_sync()

    def _on_transactions_pending(self, event: TransactionsPending) -> None:
        self._at.pending = max(0, event.count)
        if self._at.pending > 0:
            self._activate()

    def _on_block_built(self, event: BlockBuilt) -> None:
        """R4: propose the block the application built for us."""
        justification = self._at.build_requested.get(event.round)
        if (
            event.height != self._height
            or event.round != self._round
            or justification is None
            or (event.round, VoteKind.PROPOSAL) in self._at.votes
        ):
            self._report(ReportKind.DROPPED, f"stale_block_built h={event.height} r={event.round}")
            return
        self._at.valid.add(event.block_hash)
        self._propose(event.round, event.block_hash, event.block, justification)

    def _on_block_executed(self, event: BlockExecuted) -> None:
        if event.height != self._height:
            self._report(ReportKind.DROPPED, f"stale_block_executed h={event.height}")
            return
        block = self._at.executing.pop(event.block_hash, None)
        if event.valid:
            self._at.valid.add(event.block_hash)
            if block is not None:
                self._at.blocks[event.block_hash] = block
        else:
            self._report(
                ReportKind.INVALID_BLOCK, f"h={event.height} b={event.block_hash.hex()[:8]}"
            )
            if block is not None:
                self._at.invalid_digests.add(hashlib.sha256(block).digest())
                if self._at.blocks.get(event.block_hash) == block:
                    del self._at.blocks[event.block_hash]
        height = self._height
        self._advance()
        if self._height == height:
            self._check_decide_hash(event.block_hash)

    def _on_block_synced(self, event: BlockSynced) -> None:
        """R14: the application caught up from peers."""
        if event.height < self._height:
            return
        self._last_decided = self._decided_before(event.height + 1, event.round,
                                                  event.block_hash)
        self._own_last_commit = None
        self._enter_height(event.height + 1, event.block_hash)

    @staticmethod
    def _decided_before(height: int, last_round: int | None,
                        last_block_hash: bytes) -> tuple[int, int, bytes] | None:
        """What was decided at height - 1, when the caller knows its certificate's round."""
        if last_round is None or height <= 1:
            return None
        return (height - 1, last_round, last_block_hash)

    # --- messages ----------------------------------------------------------------------------

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

    # --- voting ------------------------------------------------------------------------------

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

    # --- helpers -----------------------------------------------------------------------------

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

    def _help_laggard(self, round_change: RoundChange, signature_checked: bool) -> None:
        """R13: a validator still at our previous height gets our COMMIT for it."""
        decided = self._last_decided
        key = (round_change.sender, round_change.round)
        if (
            decided is None
            or decided[0] != round_change.height
            or key in self._at.laggard_replies
            or len(self._at.laggard_replies) >= COUNT_MAX_LAGGARD_REPLIES
        ):
            self._drop("old_height", round_change)
            return
        if not signature_checked and not self._verify(round_change):
            self._drop("bad_signature", round_change)
            return
        self._at.laggard_replies.add(key)
        if self._own_last_commit is None:
            height, round_number, block_hash = decided
            seal = self._signer.seal(height, block_hash)
            signed = self._signer.sign(Commit(height, round_number, block_hash, seal, ""))
            assert isinstance(signed, Commit)
            self._own_last_commit = signed
        self._out.append(SendTo(round_change.sender, self._own_last_commit))

    def _check_sync(self) -> None:
        """R12: validators are past our height: after a grace, fetch blocks from them.

        f + 1 of them (at least one honest) wait `delay_ms_sync_grace`; a lone one waits
        FACTOR_GRACE_LONE_WITNESS times as long: the others may be stuck at our height because
        the decision they miss reached only that one (it cannot make them skip a block: every
        synced block carries its commit certificate).
        """
        ahead = sorted(
            (
                (height, -self._position_of_id(sender), sender)
                for sender, height in self._future_heights.items()
                if height > self._height
            ),
            reverse=True,
        )
        if not ahead:
            self._at.sync_since_ms = None
            return
        weak_quorum = self._validators.weak_quorum
        lone = len(ahead) < weak_quorum
        self._sync_grace_ms = self._config.delay_ms_sync_grace * (
            FACTOR_GRACE_LONE_WITNESS if lone else 1)
        if self._at.sync_since_ms is None:
            self._at.sync_since_ms = self._now_ms
        second_behind = not lone and ahead[weak_quorum - 1][0] >= self._height + 2
        grace_over = self._now_ms >= self._at.sync_since_ms + self._sync_grace_ms
        if not second_behind and not grace_over:
            return
        self._request_sync([sender for _, _, sender in ahead[:weak_quorum]], "behind")

    def _request_sync(self, peers: list[str], reason: str) -> None:
        last = self._sync_requested_ms
        if not peers or (
            last is not None and self._now_ms < last + self._config.interval_ms_sync_retry
        ):
            return
        peer = peers[self._sync_attempts % len(peers)]
        self._sync_attempts += 1
        self._sync_requested_ms = self._now_ms
        self._out.append(RequestSync(self._height, peer))
        self._report(ReportKind.SYNC_REQUESTED, f"{reason} h={self._height} peer={peer}")

    def _schedule_wakeup(self) -> None:
        """Ask for one Tick at the earliest moment a timer rule could fire."""
        candidates: list[int] = []
        if self._at.timer_at_ms is not None:
            candidates.append(self._at.timer_at_ms)
            build_at = self._at.started_ms + self._config.interval_ms_min_block
            if self._round == 0 and 0 not in self._at.build_requested and build_at > self._now_ms:
                candidates.append(build_at)
        else:
            candidates.append(self._at.started_ms + self._config.interval_ms_empty_block)
        if self._at.sync_since_ms is not None:
            retry_at = (
                0
                if self._sync_requested_ms is None
                else self._sync_requested_ms + self._config.interval_ms_sync_retry
            )
            candidates.append(max(self._at.sync_since_ms + self._sync_grace_ms, retry_at))
        at_ms = max(min(candidates), self._now_ms + 1)
        if at_ms not in self._scheduled and not any(t <= at_ms for t in self._scheduled):
            self._scheduled.add(at_ms)
            self._out.append(ScheduleTimeout(at_ms))

    def _verify(self, message: Message) -> bool:
        """Signature check, cached by message digest (each message is verified once)."""
        digest = message_digest(message, self._validators.chain_id)
        cached = self._verified.get(digest)
        if cached is not None:
            return cached
        result = verify_message(message, self._validators)
        if len(self._verified) >= COUNT_MAX_VERIFICATION_CACHE:
            del self._verified[next(iter(self._verified))]
        self._verified[digest] = result
        return result

    def _position_of(self, message: Message) -> int:
        return self._position_of_id(message.sender)

    def _position_of_id(self, node_id: str) -> int:
        position = self._validators.position(node_id)
        return len(self._validators.validators) if position is None else position

    def _report(self, kind: ReportKind, detail: str) -> None:
        self._out.append(Report(kind, detail))

    def _drop(self, reason: str, message: Message) -> None:
        self._report(
            ReportKind.DROPPED,
            f"{reason} {message_kind(message)} h={message.height} r={message.round} "
            f"from={message.sender}",
        )


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
