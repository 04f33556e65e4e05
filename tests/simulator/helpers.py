"""Shared helpers of the simulator tests: the test scenarios and a short-run shortcut."""

from __future__ import annotations

from pathlib import Path

from simulator.scenario import Scenario, load_scenario
from simulator.simulation import RunResult, Simulation

SCENARIOS = Path(__file__).parent / "scenarios"


def load_test_scenario(name: str) -> Scenario:
    """A scenario from tests/simulator/scenarios."""
    return load_scenario(SCENARIOS / f"{name}.toml")


def run(scenario: Scenario, seed: int) -> RunResult:
    """Run a scenario to its end."""
    return Simulation(scenario, seed).run()
