"""Property tests: safety under asynchrony and byzantine faults, liveness after GST.

Each example builds a network of 4, 5 or 7 validators, makes up to f of them byzantine
(equivocating, voting for invalid blocks, forging signatures, or silent), crashes and restarts
honest nodes from their persisted records, and runs the network with random delays, reordering,
drops and duplicates until a global stabilisation time (GST). After GST the network is
synchronous. Checked: no two honest validators ever commit different blocks at one height, and
after GST every honest validator commits at least two new heights.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.byzantine_actions import ByzantineKind
from tests.chain.consensus.harness import Harness, NetworkConditions

GST_MS = 8_000
AFTER_GST_MS = 60_000
INTERVAL_MS_TRANSACTIONS = 1_000


@dataclass(frozen=True)
class Scenario:
    size: int
    seed: int
    conditions: NetworkConditions
    byzantine: tuple[tuple[int, ByzantineKind], ...]
    crashes: tuple[tuple[int, int, int], ...]
    """(node position, crash time, downtime)."""


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    size = draw(st.sampled_from([4, 5, 7]))
    faulty = draw(st.integers(0, (size - 1) // 3))
    positions = draw(
        st.lists(st.integers(0, size - 1), unique=True, min_size=faulty, max_size=faulty)
    )
    kinds = draw(st.lists(st.sampled_from(list(ByzantineKind)), min_size=faulty, max_size=faulty))
    conditions = NetworkConditions(
        delay_ms_min=1,
        delay_ms_max=draw(st.integers(1, 300)),
        drop_probability=draw(st.sampled_from([0.0, 0.05, 0.2, 0.35])),
        duplicate_probability=draw(st.sampled_from([0.0, 0.1])),
    )
    crashes = draw(
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(0, 5_000), st.integers(1, 3_000)),
            max_size=3,
        )
    )
    return Scenario(
        size,
        draw(st.integers(0, 2**31)),
        conditions,
        tuple(zip(positions, kinds, strict=True)),
        tuple(crashes),
    )


def run(scenario: Scenario) -> Harness:
    harness = Harness(
        scenario.size, seed=scenario.seed, conditions=scenario.conditions, record_transcript=False
    )
    ids = harness.node_ids
    for position, kind in scenario.byzantine:
        harness.set_byzantine(ids[position], kind)
    harness.start()
    for position, crash_ms, down_ms in scenario.crashes:
        harness.crash(ids[position], crash_ms)
        harness.restart(ids[position], min(crash_ms + down_ms, GST_MS))
    for at in range(10, GST_MS + AFTER_GST_MS, INTERVAL_MS_TRANSACTIONS):
        harness.submit_transactions(at, 2)
    harness.set_conditions(GST_MS, NetworkConditions(delay_ms_min=1, delay_ms_max=20))
    return harness


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(scenarios())
def test_agreement_always_and_progress_after_gst(scenario: Scenario) -> None:
    harness = run(scenario)
    harness.run_until(GST_MS)
    assert harness.agreement_violations() == []
    honest = harness.honest_ids()
    target = max(harness.nodes[n].height for n in honest) + 2
    reached = harness.run_until_height(target, GST_MS + AFTER_GST_MS, honest)
    assert harness.agreement_violations() == []
    heights = {n: harness.nodes[n].height for n in honest}
    assert reached, f"honest nodes stalled after GST: {heights} (target {target})"
