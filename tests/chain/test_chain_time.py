"""The chain-time rules (chain.chain_time) and where the ledger applies them."""

from __future__ import annotations

import pytest

from chain.chain_time import (
    DRIFT_MS_AHEAD,
    DRIFT_MS_BEHIND,
    check_timestamp_drift,
    check_timestamp_order,
    proposal_timestamp,
)
from chain.errors import InvalidBlock


def test_an_honest_proposer_uses_its_clock_strictly_after_the_parent() -> None:
    assert proposal_timestamp(5_000, 1_000) == 5_000
    assert proposal_timestamp(1_000, 1_000) == 1_001
    assert proposal_timestamp(900, 1_000) == 1_001


def test_order_is_strict() -> None:
    check_timestamp_order(1_001, 1_000)
    for timestamp in (1_000, 999, 0):
        with pytest.raises(InvalidBlock) as refused:
            check_timestamp_order(timestamp, 1_000)
        assert refused.value.field == "timestamp"


@pytest.mark.parametrize("offset_ms", [0, DRIFT_MS_AHEAD, -DRIFT_MS_BEHIND, 1, -1])
def test_timestamps_within_the_drift_are_accepted(offset_ms: int) -> None:
    check_timestamp_drift(1_000_000 + offset_ms, 1_000_000)


@pytest.mark.parametrize("offset_ms", [DRIFT_MS_AHEAD + 1, 86_400_000, -DRIFT_MS_BEHIND - 1,
                                       -86_400_000])
def test_timestamps_outside_the_drift_are_refused(offset_ms: int) -> None:
    with pytest.raises(InvalidBlock, match="ahead" if offset_ms > 0 else "behind"):
        check_timestamp_drift(1_000_000 + offset_ms, 1_000_000)
