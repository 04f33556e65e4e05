"""Random fault schedules within the f bound never break an invariant.

Each seed draws a schedule on the four-node network (f = 1): any number of crashes and restarts,
partitions, heals, delay spikes, clock skews and message loss, and at most one byzantine
validator with any behaviour. Crashed nodes never lie, and the network may misbehave freely:
safety must hold whatever the network does.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from simulator.scenario import (
    BYZANTINE_BEHAVIOURS,
    Fault,
    NetworkSpec,
    Scenario,
    WorkloadSpec,
)
from simulator.simulation import Simulation

NODES = ("shanghai-1", "nanjing-1", "hangzhou-1", "hefei-1")
CITIES = ("shanghai", "nanjing", "hangzhou", "hefei")
DURATION_S = 4.0
COUNT_SEEDS = 10
COUNT_MAX_FAULTS = 6


def random_schedule(rng: random.Random) -> tuple[Fault, ...]:
    """Faults within the f = 1 bound (one liar at most)."""
    faults: list[Fault] = []
    liar = rng.choice(NODES)
    if rng.random() < 0.7:
        faults.append(Fault(at_s=rng.uniform(0.2, 2.0), kind="byzantine", node=liar,
                            behaviour=rng.choice(BYZANTINE_BEHAVIOURS), rate_per_s=300.0))
    for _ in range(rng.randrange(COUNT_MAX_FAULTS)):
        at_s = rng.uniform(0.1, DURATION_S - 0.3)
        kind = rng.choice(("crash", "partition", "heal", "delay", "clock_skew"))
        if kind == "crash":
            node = rng.choice(NODES)
            faults.append(Fault(at_s=at_s, kind="crash", node=node))
            faults.append(Fault(at_s=min(at_s + rng.uniform(0.2, 1.5), DURATION_S - 0.1),
                                kind="restart", node=node))
        elif kind == "partition":
            shuffled = list(CITIES)
            rng.shuffle(shuffled)
            cut = rng.randrange(1, 3)
            faults.append(Fault(at_s=at_s, kind="partition",
                                groups=(tuple(shuffled[:cut]), tuple(shuffled[cut:]))))
        elif kind == "heal":
            faults.append(Fault(at_s=at_s, kind="heal"))
        elif kind == "delay":
            a, b = rng.sample(CITIES, 2)
            faults.append(Fault(at_s=at_s, kind="delay", cities=(a, b),
                                extra_ms=rng.choice((20.0, 200.0, 1500.0))))
        else:
            faults.append(Fault(at_s=at_s, kind="clock_skew", node=rng.choice(NODES),
                                skew_ms=rng.uniform(-3_000, 3_000)))
    return tuple(sorted(faults, key=lambda f: f.at_s))


def fuzz_scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    return Scenario(
        name=f"fuzz-{seed}", description="random faults within f", preset="local4",
        duration_s=DURATION_S,
        network=NetworkSpec(jitter_ms=rng.choice((0.5, 5.0)), loss=rng.choice((0.0, 0.02))),
        workload=WorkloadSpec(transactions_per_s=8, queries_per_s=3, enterprises_per_city=3,
                              resubmit_after_s=1.5),
        consensus=dataclasses.replace(Scenario("", "", "local4", 1).consensus,
                                      timeout_ms_round_base=300, delay_ms_sync_grace=300,
                                      interval_ms_sync_retry=500),
        faults=random_schedule(rng),
    )


@pytest.mark.parametrize("seed", range(COUNT_SEEDS))
def test_random_faults_within_f_keep_every_invariant(seed: int) -> None:
    scenario = fuzz_scenario(1_000 + seed)
    liars = {f.node for f in scenario.faults if f.kind == "byzantine"}
    assert len(liars) <= 1
    result = Simulation(scenario, seed).run()
    assert result.violation is None, (scenario.faults, result.violation)
