"""The consensus state machine: a QBFT variant, sans-I/O.

`ConsensusState.handle(event) -> list[Action]` is the whole interface. The object's only side
effect is on its own fields; it never reads a clock, touches a socket or spawns a thread.
The table `RULES` (chain/consensus/rules.py) is the protocol, and `DISPATCH`, read off its rows,
routes each event to the handler that applies the rules; each handler cites them (R1..R16).
The machine is built in layers, one concept each: machine.py (fields, reporting), catch_up.py
(R12-R13), voting.py (R4-R8, R11, R16), receiving.py (incoming messages) and this module
(heights, rounds, timers, the application's events, the verification cache).
n validators tolerate f = (n - 1) // 3 faults with quorum q = n - f (see
docs/spec/consensus.md for the safety and liveness arguments).
"""

from __future__ import annotations

import hashlib

from chain.consensus.actions import Action, BuildBlock, ReportKind, ScheduleTimeout
from chain.consensus.catch_up import COUNT_MAX_LAGGARD_REPLIES, FACTOR_GRACE_LONE_WITNESS
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import InvalidValidatorSetError
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    BlockSynced,
    Event,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.height import HeightState
from chain.consensus.justification import timeout_ms_for_round
from chain.consensus.messages import Commit, Message
from chain.consensus.persistence import PersistedState, VoteKind
from chain.consensus.receiving import (
    COUNT_MAX_FUTURE_MESSAGES,
    COUNT_MAX_ROUNDS_AHEAD,
    MessageRules,
)
from chain.consensus.rules import DISPATCH
from chain.consensus.signing import Signer, message_digest, verify_message

COUNT_MAX_VERIFICATION_CACHE = 65_536
"""Signature results remembered by message digest (about 3 MiB)."""

__all__ = ["COUNT_MAX_FUTURE_MESSAGES", "COUNT_MAX_LAGGARD_REPLIES", "COUNT_MAX_ROUNDS_AHEAD",
           "COUNT_MAX_VERIFICATION_CACHE", "FACTOR_GRACE_LONE_WITNESS", "ConsensusConfig",
           "ConsensusState"]


class ConsensusState(MessageRules):
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
