"""Honest chain time: the rules a block's timestamp obeys.

Two rules, both pure functions of values the caller passes in:

- **Order** (every block, always): a block's timestamp is strictly later than its parent's.
  `validate_block` applies it to proposals and to certified blocks alike; it needs no clock.
- **Drift** (only when voting on a freshly built proposal): the timestamp lies within a bounded
  distance of the voting validator's own clock. A validator refuses to vote otherwise, so the
  round times out and the next proposer tries. Certified blocks (sync, import, a quorum's commit)
  are never checked against the local clock: a quorum of validators already did.

Together they mean one proposer with a skewed clock cannot move chain time: its proposals are
refused by every honest validator, and an honest proposer's timestamp is its own clock, bounded
below by the parent. The bounds are asymmetric: a proposal arrives after it was built (transit,
queueing on a loaded machine, execution), so a timestamp may lag the voter's clock by more than
it may lead it.
"""

from __future__ import annotations

from chain.errors import InvalidBlock

DRIFT_MS_AHEAD = 2_000
"""How far a proposal's timestamp may be ahead of the voter's clock (clock error between
validators; NTP keeps real ones within tens of milliseconds)."""

DRIFT_MS_BEHIND = 10_000
"""How far it may lag the voter's clock: clock error plus transit, queueing and execution of the
proposal before the vote (two base round timeouts of the node runtime)."""


def proposal_timestamp(clock_ms: int, parent_timestamp_ms: int) -> int:
    """The timestamp an honest proposer gives its block: its clock, strictly after the parent."""
    return max(clock_ms, parent_timestamp_ms + 1)


def check_timestamp_order(timestamp_ms: int, parent_timestamp_ms: int) -> None:
    """Order rule: InvalidBlock unless the timestamp is strictly later than the parent's."""
    if timestamp_ms <= parent_timestamp_ms:
        raise InvalidBlock(
            f"block timestamp {timestamp_ms} is not later than its parent's "
            f"{parent_timestamp_ms}", field="timestamp")


def check_timestamp_drift(timestamp_ms: int, clock_ms: int,
                          ahead_ms: int = DRIFT_MS_AHEAD,
                          behind_ms: int = DRIFT_MS_BEHIND) -> None:
    """Drift rule: InvalidBlock unless clock - behind_ms <= timestamp <= clock + ahead_ms."""
    offset_ms = timestamp_ms - clock_ms
    if offset_ms > ahead_ms:
        raise InvalidBlock(
            f"block timestamp is {offset_ms} ms ahead of this validator's clock; at most "
            f"{ahead_ms} ms is allowed", field="timestamp")
    if -offset_ms > behind_ms:
        raise InvalidBlock(
            f"block timestamp is {-offset_ms} ms behind this validator's clock; at most "
            f"{behind_ms} ms is allowed", field="timestamp")
