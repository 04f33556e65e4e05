"""The simulated network and the real node runtime commit the same chain for the same input.

Two tests. The first runs four runtimes in this process; the second runs one seeded scenario
on `yrdchain up` (real node processes over HTTP) and in the simulator, and compares what a
teacher must trust: the committed transactions, each sender's order, every status, and the
table state with height- and time-valued fields masked (tests/simulator/agreement_scenario.py).

In-process test:
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
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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
from nodes.cluster.network import find_free_base_port
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
from tests.simulator.agreement_scenario import Outcome, outcome_of, seeded_scenario
from tests.simulator.agreement_scenario import Scenario as AgreementScenario

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


SEED_AGREEMENT = 2026
TIMEOUT_S_PROCESSES = 90.0
SUBMIT_SPACING_S = 0.01
REPOSITORY = Path(__file__).resolve().parents[2]


def simulated_outcome(preset: Preset, genesis: Genesis, scenario: AgreementScenario) -> Outcome:
    """The scenario in the simulator (per-node execution, real signatures)."""
    spec = Scenario(name="agreement-processes", description="the seeded agreement scenario",
                    preset=preset.name, duration_s=8.0, execution="per-node",
                    workload=WorkloadSpec(transactions_per_s=0, queries_per_s=0,
                                          enterprises_per_city=3))
    simulation = Simulation(spec, SEED_AGREEMENT)
    for position, transaction in enumerate(scenario.transactions):
        simulation.submit_raw(0.1 + position * SUBMIT_SPACING_S,
                              preset.cities[transaction.city_index], transaction.raw)
    result = simulation.run()
    assert result.violation is None
    ledgers = [host.ledger for host in simulation.nodes.values()]
    assert all(ledger is not None for ledger in ledgers)
    assert len({ledger.head for ledger in ledgers if ledger is not None}) == 1
    ledger = ledgers[0]
    assert ledger is not None

    def receipt_of(transaction_hash: bytes) -> tuple[int, int, int, str | None] | None:
        found = ledger.receipt(transaction_hash)
        if found is None:
            return None
        height, index, receipt = found
        return height, index, receipt.status, receipt.revert_reason

    return outcome_of(scenario, genesis, receipt_of,
                      lambda to, data: ledger.call(to, data).output)


@contextmanager
def yrdchain_up(preset: Preset, data_dir: Path) -> Iterator[list[str]]:
    """`yrdchain up` as its own process; the node URLs once every node answers."""
    base = find_free_base_port(len(preset.nodes))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "nodes.cli.main", "up", "--preset", preset.name,
         "--data-dir", str(data_dir), "--base-port", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
        start_new_session=True)
    urls = [f"http://127.0.0.1:{base + i}" for i in range(len(preset.nodes))]
    try:
        with httpx.Client(timeout=2.0) as client:
            deadline = time.monotonic() + TIMEOUT_S_PROCESSES
            while not all(_answers(client, url) for url in urls):
                assert process.poll() is None, "yrdchain up exited"
                assert time.monotonic() < deadline, "the network did not come up"
                time.sleep(0.25)
        yield urls
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/status").status_code == 200
    except httpx.HTTPError:
        return False


def process_outcome(preset: Preset, genesis: Genesis, scenario: AgreementScenario,
                    data_dir: Path) -> Outcome:
    """The scenario on `yrdchain up` processes, each transaction sent to its city's node."""
    node_of_city = {index: next(i for i, node in enumerate(preset.nodes) if node.city == city)
                    for index, city in enumerate(preset.cities)}
    with yrdchain_up(preset, data_dir) as urls, httpx.Client(timeout=10.0) as client:
        for transaction in scenario.transactions:
            url = urls[node_of_city[transaction.city_index]]
            body = {"raw": "0x" + transaction.raw.hex()}
            if transaction.payload is not None:
                body["payload"] = transaction.payload
            response = client.post(f"{url}/v1/transactions", json=body)
            assert response.status_code == 202, response.text
            time.sleep(SUBMIT_SPACING_S)
        hashes = ["0x" + t.transaction_hash.hex() for t in scenario.transactions]
        deadline = time.monotonic() + TIMEOUT_S_PROCESSES
        while not all(client.get(f"{url}/v1/transactions/{h}").json().get("status")
                      == "committed" for url in urls for h in hashes):
            assert time.monotonic() < deadline, "not every transaction committed everywhere"
            time.sleep(0.25)
        heads = {client.get(f"{url}/status").json()["state_root"] for url in urls}
        assert len(heads) == 1, "the processes disagree"

        def receipt_of(transaction_hash: bytes) -> tuple[int, int, int, str | None] | None:
            found = client.get(f"{urls[0]}/v1/transactions/0x{transaction_hash.hex()}").json()
            if found.get("status") != "committed":
                return None
            receipt = found["receipt"]
            return (found["block_height"], found["index"], receipt["status"],
                    receipt["revert_reason"])

        def call(to: bytes, data: bytes) -> bytes:
            response = client.post(f"{urls[0]}/rpc", json={
                "jsonrpc": "2.0", "id": 1, "method": "eth_call",
                "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, "latest"]})
            return bytes.fromhex(response.json()["result"][2:])

        return outcome_of(scenario, genesis, receipt_of, call)


def test_simulator_and_yrdchain_up_processes_agree(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    scenario = seeded_scenario(preset, genesis, SEED_AGREEMENT)
    simulated = simulated_outcome(preset, genesis, scenario)
    real = process_outcome(preset, genesis, scenario, tmp_path / "network")

    everything = frozenset(t.transaction_hash for t in scenario.transactions)
    assert simulated.committed == everything
    assert real.committed == everything
    assert real.order_by_sender == simulated.order_by_sender
    assert real.statuses == simulated.statuses
    assert {status for status, _ in real.statuses.values()} == {0, 1}, (
        "the scenario must contain both successes and a refused transaction")
    assert real.records == simulated.records
    assert real.records_by_enterprise == simulated.records_by_enterprise
    assert all(real.records_by_enterprise.values())
    assert real.grants == simulated.grants
