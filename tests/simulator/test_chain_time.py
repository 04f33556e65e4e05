"""Honest chain time in the simulator: a validator whose clock is a day fast cannot move chain time.

Its proposals are refused by the honest validators (their timestamp is outside the drift of
their clocks), the round changes and an honest proposer's block is committed instead; the skewed
validator itself follows the chain by syncing certified blocks, which it never checks against its
own clock.
"""

from __future__ import annotations

import dataclasses

from chain.chain_time import DRIFT_MS_AHEAD
from chain.presets import get_preset
from simulator.scenario import Fault
from simulator.simulation import Simulation
from tests.simulator.helpers import load_test_scenario

DAY_MS = 86_400_000


def test_a_proposer_a_day_fast_cannot_move_chain_time() -> None:
    base = load_test_scenario("local4-small")
    skewed = get_preset(base.preset).nodes[1].node_id
    scenario = dataclasses.replace(
        base,
        name="local4-skewed-clock",
        duration_s=8,
        consensus=dataclasses.replace(base.consensus, timeout_ms_round_base=300,
                                      delay_ms_sync_grace=300, interval_ms_sync_retry=500),
        faults=(Fault(at_s=0.0, kind="clock_skew", node=skewed, skew_ms=DAY_MS),),
    )
    simulation = Simulation(scenario, seed=3)
    result = simulation.run()
    assert result.violation is None
    end_ms = get_preset(base.preset).genesis_timestamp_ms + int(simulation.now_ms())
    honest = [n for n in simulation.nodes.values() if n.node_id != skewed]
    ledger = honest[0].ledger
    assert ledger is not None
    assert ledger.head.height >= 5, "the honest validators keep committing"
    proposers = set()
    previous = ledger.block(0).header.timestamp_ms
    for height in range(1, ledger.head.height + 1):
        header = ledger.block(height).header
        assert header.timestamp_ms > previous, "timestamps strictly ordered"
        assert header.timestamp_ms <= end_ms + DRIFT_MS_AHEAD, (height, header.proposer)
        previous = header.timestamp_ms
        proposers.add(header.proposer)
    assert skewed not in proposers
    assert len(proposers) >= 2
    follower = simulation.nodes[skewed].ledger
    assert follower is not None and follower.head.height >= ledger.head.height - 1, (
        "the skewed validator follows by syncing certified blocks")
