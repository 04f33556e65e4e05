"""What the clients and the fault timeline may touch of a running simulation.

`Simulation` satisfies this Protocol; `simulator.clients` and `simulator.faults` depend on it
rather than on `simulator.simulation`, so the simulation imports them and not the other way round.
"""

from __future__ import annotations

from typing import Protocol

from chain.consensus.validators import ValidatorSet
from chain.genesis import Genesis
from chain.presets import Preset
from simulator.adversary import Adversary
from simulator.host import SimulatedHost
from simulator.invariants import InvariantChecker
from simulator.kernel import Kernel
from simulator.metrics import MetricsCollector
from simulator.network import Network
from simulator.scenario import Scenario


class World(Protocol):
    """The parts of a run its clients and faults act on."""

    scenario: Scenario
    preset: Preset
    genesis: Genesis
    validator_set: ValidatorSet
    kernel: Kernel
    network: Network
    nodes: dict[str, SimulatedHost]
    metrics: MetricsCollector
    checker: InvariantChecker
    adversary: Adversary

    def honest(self, node_id: str) -> bool:
        """Never byzantine during this run."""

    def send(self, node: SimulatedHost, peer: str | None, channel: str, frame: bytes,
             at_ms: float) -> None:
        """Carry a frame over the simulated network."""
