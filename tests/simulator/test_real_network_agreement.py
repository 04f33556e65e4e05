"""The simulated network and the real node runtime commit the same chain for the same input.

The same signed transactions (publishes and grants from every city) go into a simulated local4
network and into four real `NodeRuntime`s running in-process on an asyncio loop with a loopback
transport (the real runtime code path: admission, gossip, consensus driven by wall-clock timers,
py-evm execution, commit). Both must commit every transaction with the same receipt status and
index the same records per enterprise in the same order. Then the simulator's committed chain is
fed block by block into a fresh real runtime through its block-sync path (certificate check and
re-execution), which must accept every block and reach the same head and state root.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chain.blocks import encode_block
from chain.consensus.validators import Validator, ValidatorSet
from chain.crypto import keccak
from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind, encode_record, payload_hash
from chain.records import record_id_for as make_record_id
from chain.storage import MemoryBlockStore
from chain.wallet import sign_digest, sign_dynamic_fee, sign_legacy
from contracts import bindings
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.asyncio_ports import AsyncioTimers, WallClock
from nodes.runtime.config import NodeConfig
from nodes.runtime.frames import encode_frames
from nodes.runtime.node import NodeRuntime
from nodes.runtime.ports import (
    BlocksReply,
    ImmediateProcessor,
    PeerReply,
    QuietObserver,
    RuntimePorts,
)
from nodes.storage.records import MemoryRecordStore
from simulator.scenario import Scenario, WorkloadSpec
from simulator.simulation import Simulation

PUBLISHES_PER_CITY = 4
TIMEOUT_S_REAL_NETWORK = 45.0


def signed_transactions(preset: Preset, genesis: Genesis) -> list[tuple[int, bytes]]:
    """(city index, raw transaction): publishes by each bureau, then one grant per bank."""
    found: list[tuple[int, bytes]] = []
    cities = preset.cities
    for serial in range(PUBLISHES_PER_CITY):
        for index, city in enumerate(cities):
            bureau = preset.key(f"bureau:{city.value}")
            enterprise = preset.enterprise(f"enterprise:{city.value}:{serial % 3 + 1}")
            record = CreditRecord(enterprise.credit_code, RecordKind(serial % len(RecordKind)),
                                  "2024", {"serial": serial, "city": city.value})
            digest = payload_hash(encode_record(record))
            data = bindings.encode_publish(make_record_id(bureau.address, digest),
                                           enterprise.credit_code.to_bytes32(),
                                           int(record.kind), digest)
            found.append((index, sign_legacy(bureau, preset.chain_id, serial,
                                             genesis.contracts.registry, data)))
    for index, city in enumerate(cities):
        bank = preset.key(f"bank:{city.value}")
        other = cities[(index + 1) % len(cities)]
        enterprise = preset.enterprise(f"enterprise:{other.value}:1")
        expires = preset.genesis_timestamp_ms // 1000 + 10 * 365 * 86_400
        digest = bindings.grant_digest(preset.chain_id, genesis.contracts.authorization,
                                       enterprise.credit_code.to_bytes32(), bank.address,
                                       ALL_KINDS_SCOPE, expires, 0)
        signature = sign_digest(preset.key(enterprise.label), digest)
        data = bindings.encode_grant(enterprise.credit_code.to_bytes32(), ALL_KINDS_SCOPE,
                                     expires, 0, signature.v, signature.r, signature.s)
        found.append((index, sign_dynamic_fee(bank, preset.chain_id, 0,
                                              genesis.contracts.authorization, data)))
    return found


class LoopbackTransport:
    """Frames go to the peer runtime's `receive_frames` on the next loop iteration."""

    def __init__(self, node_id: str, runtimes: dict[str, NodeRuntime]) -> None:
        self.node_id = node_id
        self.runtimes = runtimes

    def connected_peers(self) -> list[str]:
        """Every other runtime."""
        return [n for n in self.runtimes if n != self.node_id]

    def send(self, peer: str, channel: str, frame: bytes) -> None:
        """Deliver one frame soon."""
        body = encode_frames([frame])
        asyncio.get_running_loop().call_soon(self.runtimes[peer].receive_frames, channel, body)

    def broadcast(self, channel: str, frame: bytes) -> None:
        """Deliver to every other runtime."""
        for peer in self.connected_peers():
            self.send(peer, channel, frame)


def validator_set_of(preset: Preset) -> ValidatorSet:
    return ValidatorSet(
        tuple(Validator(n.node_id, n.city.title, preset.node_public_key(n.node_id))
              for n in preset.nodes), consensus_chain_id(preset))


class NoPeerBlocks:
    """Every runtime starts at genesis together: nobody is ahead, nothing to fetch."""

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        reply(None)

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        reply([])


def make_runtime(preset: Preset, genesis: Genesis, node_id: str, data_dir: Path,
                 runtimes: dict[str, NodeRuntime] | None = None) -> NodeRuntime:
    """A runtime on the real process's clock and asyncio timers, linked to `runtimes`."""
    config = NodeConfig(node_id, preset.name, data_dir / node_id, "127.0.0.1", 0)
    clock = WallClock()
    ports = RuntimePorts(
        clock=clock, timers=AsyncioTimers(clock),
        transport=LoopbackTransport(node_id, runtimes if runtimes is not None else {}),
        peer_blocks=NoPeerBlocks(), block_store=MemoryBlockStore(),
        record_store=MemoryRecordStore(), processor=ImmediateProcessor(),
        observer=QuietObserver())
    return NodeRuntime(config, genesis, validator_set_of(preset), ports)


async def run_real_network(preset: Preset, genesis: Genesis, transactions: list[tuple[int, bytes]],
                           data_dir: Path) -> dict[str, NodeRuntime]:
    runtimes: dict[str, NodeRuntime] = {}
    for node in preset.nodes:
        runtimes[node.node_id] = make_runtime(preset, genesis, node.node_id, data_dir, runtimes)
    for runtime in runtimes.values():
        runtime.start()
    node_ids = list(runtimes)
    for index, raw in transactions:
        runtimes[node_ids[index]].submit_transaction(raw)
        await asyncio.sleep(0.01)
    hashes = [keccak(raw) for _, raw in transactions]
    deadline = time.monotonic() + TIMEOUT_S_REAL_NETWORK
    while time.monotonic() < deadline:
        if all(r.ledger.transaction_location(h) is not None
               for r in runtimes.values() for h in hashes):
            break
        await asyncio.sleep(0.05)
    for runtime in runtimes.values():
        runtime.halt()
    return runtimes


def test_simulated_and_real_networks_commit_the_same_chain(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    transactions = signed_transactions(preset, genesis)
    hashes = [keccak(raw) for _, raw in transactions]

    scenario = Scenario(name="agreement", description="same input as the real network",
                        preset=preset.name, duration_s=6.0,
                        workload=WorkloadSpec(transactions_per_s=0, queries_per_s=0,
                                              enterprises_per_city=3))
    simulation = Simulation(scenario, 1)
    for position, (index, raw) in enumerate(transactions):
        simulation.submit_raw(0.1 + position * 0.01, preset.cities[index], raw)
    result = simulation.run()
    assert result.violation is None
    simulated = [n.ledger for n in simulation.nodes.values()]
    assert all(ledger is not None for ledger in simulated)

    runtimes = asyncio.run(run_real_network(preset, genesis, transactions, tmp_path))
    real = [r.ledger for r in runtimes.values()]

    for ledger in (*simulated, *real):
        assert ledger is not None
        for transaction_hash in hashes:
            found = ledger.receipt(transaction_hash)
            assert found is not None, "a transaction did not commit"
            assert found[2].status == 1, found[2].revert_reason
    for network in (simulated, real):
        heads = {ledger.head for ledger in network if ledger is not None}
        assert len(heads) == 1, "nodes of one network disagree"
    reference_sim, reference_real = simulated[0], real[0]
    assert reference_sim is not None
    for enterprise in preset.enterprises:
        code = enterprise.credit_code.code
        assert ([e.record_id for e in reference_sim.records_of(code)]
                == [e.record_id for e in reference_real.records_of(code)])

    fresh = make_runtime(preset, genesis, preset.nodes[0].node_id, tmp_path / "replay")
    for height in range(1, reference_sim.head.height + 1):
        frame = encode_block(reference_sim.block(height))
        assert fresh.apply_synced(frame, notify=False), f"real runtime refused block {height}"
    assert fresh.ledger.head == reference_sim.head
