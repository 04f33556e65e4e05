"""Every shipped scenario keeps its invariants (compressed to a few simulated seconds)."""

from __future__ import annotations

import pytest

from simulator.cli import list_scenarios
from simulator.scenario import parse_scenario, shipped_scenarios
from simulator.simulation import Simulation

SHORT_DURATION_S = 2.5
"""Each scenario's whole timeline of faults and bursts squeezed into this much virtual time."""

RATE_SCALE = 0.25
"""Traffic scaled down so fourteen nodes stay quick on a shared machine."""

EXPECTED = {
    "yrd-2020-baseline", "yrd-2021-baseline", "shanghai-node-crash",
    "jiangsu-zhejiang-partition", "byzantine-proposer", "signature-flood", "query-surge",
}


def test_the_seven_scenarios_ship_and_list() -> None:
    assert set(shipped_scenarios()) == EXPECTED
    assert len(list_scenarios().splitlines()) == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_scenario_keeps_its_invariants(name: str) -> None:
    scenario = parse_scenario(shipped_scenarios()[name], name).compressed(
        SHORT_DURATION_S, rate_scale=RATE_SCALE)
    result = Simulation(scenario, 3).run()
    assert result.violation is None, result.violation
    assert result.metrics["blocks"]["height"] > 0
    assert result.metrics["invariants"]["heights_checked"] > 0
