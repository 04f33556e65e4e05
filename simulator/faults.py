"""The fault timeline: what each kind of entry does to the running simulation.

- crash / restart: the node process stops (state machine, ledger object and mempool are lost,
  the store stays) and later boots from its store, catches up from the best reachable peer and
  starts consensus at its head + 1;
- partition / heal: links between cities of different groups are cut (cities no group names
  keep all their links); heal also ends delay spikes;
- delay: every message between two cities (or between any city of one group and any of the
  other) takes `extra_ms` longer (0 ends the spike);
- byzantine / honest: a validator starts or stops misbehaving (see simulator/byzantine.py); a
  node that was ever byzantine is left out of the honest-node invariants;
- clock_skew: a node's clock runs `skew_ms` ahead (or behind, when negative) of virtual time.
"""

from __future__ import annotations

from chain.consensus.signing import Signer
from simulator import events as ev
from simulator.byzantine import simple_behaviour
from simulator.kernel import Priority
from simulator.scenario import Fault
from simulator.world import World


def fault_nodes(fault: Fault) -> tuple[str, ...]:
    """The nodes a fault names."""
    return (*((fault.node,) if fault.node else ()), *fault.nodes)


def delay_pairs(fault: Fault) -> list[tuple[str, str]]:
    """The city pairs a delay entry slows: its two cities, or every pair across two groups."""
    if fault.cities:
        return [(fault.cities[0], fault.cities[1])]
    return [(a, b) for a in fault.groups[0] for b in fault.groups[1]]


def describe_fault(fault: Fault) -> str:
    """One line for traces and the report."""
    parts = [f"t={fault.at_s:g}s {fault.kind}"]
    if fault_nodes(fault):
        parts.append(",".join(fault_nodes(fault)))
    if fault.behaviour:
        parts.append(fault.behaviour)
    if fault.groups:
        parts.append(" | ".join("+".join(g) for g in fault.groups))
    if fault.cities:
        parts.append("-".join(fault.cities))
    if fault.kind == "delay":
        parts.append(f"+{fault.extra_ms:g}ms")
    if fault.kind == "clock_skew":
        parts.append(f"{fault.skew_ms:+g}ms")
    if fault.rate_per_s:
        parts.append(f"{fault.rate_per_s:g}/s")
    return " ".join(parts)


def apply_fault(world: World, fault: Fault) -> None:
    """Carry out one timeline entry: it changes the network, a host or the adversary."""
    world.kernel.note(f"fault {describe_fault(fault)}")
    world.metrics.counters[f"fault_{fault.kind}"] += 1
    kind = fault.kind
    if kind == "partition":
        world.network.partition(fault.groups)
    elif kind == "heal":
        world.network.heal()
    elif kind == "delay":
        for a, b in delay_pairs(fault):
            world.network.add_delay(a, b, fault.extra_ms)
    for node_id in fault_nodes(fault):
        node = world.nodes[node_id]
        if kind == "crash" and node.alive:
            node.crash()
        elif kind == "restart" and not node.alive:
            node.boot()
        elif kind == "clock_skew":
            node.skew_ms = fault.skew_ms
        elif kind == "byzantine":
            _make_byzantine(world, node_id, fault)
        elif kind == "honest":
            node.misbehave(None)
            world.adversary.stop_flood(node_id)


def _make_byzantine(world: World, node_id: str, fault: Fault) -> None:
    node = world.nodes[node_id]
    adversary = world.adversary
    adversary.byzantine.add(node_id)
    behaviour = fault.behaviour or "silent"
    signer = Signer(node_id, world.preset.node_seed(node_id), world.validator_set.chain_id)
    if behaviour == "flood":
        generation = adversary.start_flood(node_id, fault.rate_per_s)
        world.kernel.schedule(world.kernel.now_ms, ev.FloodTick(node_id, generation),
                              Priority.CLIENT)
    elif behaviour == "equivocate":
        adversary.cabal.join(node_id)
        node.misbehave(adversary.cabal.behaviour(signer, lambda: node.ledger))
    else:
        node.misbehave(simple_behaviour(behaviour, signer, world.validator_set.chain_id))
