"""Configuration of one validator's consensus: identity, validator set and timing.

Timing limits are named constants with the unit in the name; the defaults suit the Yangtze
River Delta network (one-way delays of a few to tens of milliseconds between the eight cities).
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.consensus.validators import ValidatorSet

TIMEOUT_MS_ROUND_BASE = 1_000
"""Round-0 timer: generous next to regional latency (tens of ms) plus block execution."""

TIMEOUT_MS_ROUND_MAX = 60_000
"""Cap of the doubling round timer, so a long outage still retries every minute."""

INTERVAL_MS_EMPTY_BLOCK = 5_000
"""An idle height produces a heartbeat block after this long (keeps laggards syncing)."""

INTERVAL_MS_MIN_BLOCK = 0
"""Least time from the start of a height to its proposal: transactions arriving meanwhile join
the same block (0 proposes as soon as there is work)."""

DELAY_MS_SYNC_GRACE = 1_000
"""How long f + 1 validators must be one height ahead before we ask for a block sync."""

INTERVAL_MS_SYNC_RETRY = 2_000
"""Least time between two RequestSync actions."""


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Everything a node's state machine needs: identity, validators and timing."""

    node_id: str
    signing_key_seed: bytes
    """32-byte Ed25519 private key of this node."""
    validator_set: ValidatorSet
    timeout_ms_round_base: int = TIMEOUT_MS_ROUND_BASE
    timeout_ms_round_max: int = TIMEOUT_MS_ROUND_MAX
    interval_ms_empty_block: int = INTERVAL_MS_EMPTY_BLOCK
    interval_ms_min_block: int = INTERVAL_MS_MIN_BLOCK
    delay_ms_sync_grace: int = DELAY_MS_SYNC_GRACE
    interval_ms_sync_retry: int = INTERVAL_MS_SYNC_RETRY
