"""Catching up and helping others catch up (R12, R13): fetch blocks from validators that are
ahead, and send a laggard our COMMIT for the height it is still deciding."""

from __future__ import annotations

from chain.consensus.actions import ReportKind, RequestSync, SendTo
from chain.consensus.machine import MachineFields
from chain.consensus.messages import Commit, RoundChange

COUNT_MAX_LAGGARD_REPLIES = 1_024
"""Replies to laggards per height (R13)."""

FACTOR_GRACE_LONE_WITNESS = 4
"""Fewer than f + 1 validators ahead: wait this many sync graces before fetching from them
(a byzantine one can cost a fetch per retry interval, never a wrong block)."""


class CatchUpRules(MachineFields):
    """R12 and R13."""

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
