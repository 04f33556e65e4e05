"""Who misbehaves in a run: byzantine validators, the equivocation cabal and the flooders.

The fault timeline (simulator/faults.py) writes here; the clients read the flood rates, the
invariant checks read who is honest. Keeping it in one value means a fault changes the
adversary, the network or a host — never the simulation's own attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.consensus.validators import ValidatorSet
from simulator.byzantine import Cabal


@dataclass
class Adversary:
    """The byzantine side of one run.

    byzantine: every validator that was ever byzantine (left out of honest-node invariants).
    flood_generation: bumped when a flooder starts or stops, so stale flood ticks end.
    flood_rates: forged transactions per second of each flooder.
    """

    cabal: Cabal
    byzantine: set[str] = field(default_factory=set)
    flood_generation: dict[str, int] = field(default_factory=dict)
    flood_rates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, validator_set: ValidatorSet) -> Adversary:
        """Nobody misbehaves yet."""
        return cls(Cabal(validator_set))

    def honest(self, node_id: str) -> bool:
        """Never byzantine during this run."""
        return node_id not in self.byzantine

    def start_flood(self, node_id: str, rate_per_s: float) -> int:
        """A new flooding generation for `node_id`; its ticks carry the number."""
        generation = self.flood_generation.get(node_id, 0) + 1
        self.flood_generation[node_id] = generation
        self.flood_rates[node_id] = rate_per_s
        return generation

    def stop_flood(self, node_id: str) -> None:
        """End `node_id`'s flooding (its pending ticks see a newer generation)."""
        self.flood_generation[node_id] = self.flood_generation.get(node_id, 0) + 1
