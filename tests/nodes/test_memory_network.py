"""The runtime's in-memory twins: four real runtimes on a manual clock commit, crash, catch up."""

from __future__ import annotations

from chain.consensus.validators import Validator, ValidatorSet
from chain.crypto import keccak
from chain.genesis import Genesis
from chain.presets import Preset
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.memory_ports import MemoryNetwork
from tests.chain.ledger_helpers import publication

DEADLINE_MS = 30_000


def network_of(preset: Preset, genesis: Genesis) -> MemoryNetwork:
    validator_set = ValidatorSet(
        tuple(Validator(n.node_id, n.city.title, preset.node_public_key(n.node_id))
              for n in preset.nodes), consensus_chain_id(preset))
    network = MemoryNetwork(genesis, validator_set)
    for node in preset.nodes:
        network.boot(node.node_id)
    return network


def committed_everywhere(network: MemoryNetwork, transaction_hash: bytes) -> bool:
    return all(r.ledger.transaction_location(transaction_hash) is not None
               for r in network.runtimes.values())


def test_in_memory_runtimes_commit_and_a_restarted_node_catches_up(
        preset: Preset, genesis: Genesis) -> None:
    network = network_of(preset, genesis)
    bureau = preset.key("bureau:shanghai")
    first = publication(genesis, bureau, 0).raw
    network.runtimes["shanghai-1"].submit_transaction(first)
    assert network.scheduler.run_until(
        DEADLINE_MS, lambda: committed_everywhere(network, keccak(first)))
    assert all(r.started and not r.syncing for r in network.runtimes.values())

    network.crash("hefei-1")
    second = publication(genesis, bureau, 1, 1).raw
    network.runtimes["nanjing-1"].submit_transaction(second)
    deadline = network.scheduler.clock.now + DEADLINE_MS
    assert network.scheduler.run_until(
        deadline, lambda: committed_everywhere(network, keccak(second)))
    height = network.runtimes["shanghai-1"].ledger.head.height

    restarted = network.boot("hefei-1")
    assert restarted.syncing and not restarted.started
    assert network.scheduler.run_until(network.scheduler.clock.now + DEADLINE_MS,
                                       lambda: restarted.started)
    assert restarted.ledger.head.height >= height
    assert restarted.ledger.transaction_location(keccak(second)) is not None
    reference = network.runtimes["shanghai-1"].ledger
    assert restarted.ledger.block(height).hash == reference.block(height).hash
    assert network.runtimes["hefei-1"].metrics.counters["blocks_synced"] >= 1
