"""Kill every node at once, at a random moment under load, and check what survives.

One cycle: publishes flow to every node from a background thread; at a seeded random moment
every node process is SIGKILLed together, then all are restarted. The cycle checks that every
transaction seen committed before the kill is committed on every node afterwards (no committed
transaction lost), that every transaction acknowledged with 202 — pending at the kill included,
which the nodes' mempool journals bring back — commits after the restart (no acknowledged
transaction lost), that the nodes agree on every block hash (no divergence), and measures the
time from the restart until a new transaction commits (time to resume).

`make test` runs two seeded cycles (tests/adversarial/test_kill_all.py); `make chaos` runs ten:

    python -m tests.adversarial.kill_all --cycles 10 --seed 7 --base-port 27300
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from nodes.cluster.network import start_node, stop_node, wait_ready
from tests.e2e.network import RunningNetwork, running_network
from tests.e2e.workload import PublishWorkload, is_committed, submit

LOAD_INTERVAL_S = 0.05  # one publish every 50 ms, round robin over the nodes
RESUME_TIMEOUT_S = 90.0
ACKNOWLEDGED_TIMEOUT_S = 60.0  # for the journaled pending transactions to commit after resuming


@dataclass
class CycleResult:
    """What one kill-all cycle observed."""

    committed_before: int
    pending_at_kill: int  # acknowledged, and committed above the height seen just before the kill
    lost: list[str]
    acknowledged_lost: list[str]  # acknowledged with 202 and never committed after the restart
    divergent_heights: list[int]
    resume_s: float
    height_before: int
    height_after: int


@dataclass
class Load:
    """Publishes submitted from a background thread; acknowledged hashes by node."""

    network: RunningNetwork
    workload: PublishWorkload
    acknowledged: list[tuple[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin submitting."""
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def halt(self) -> None:
        """Stop submitting."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)

    def _run(self) -> None:
        index = 0
        with httpx.Client(timeout=2.0) as client:
            while not self.stop.is_set():
                node_id = self.network.node_ids[index % len(self.network.node_ids)]
                city = self.network.preset.node(node_id).city.value
                index += 1
                try:
                    raw = self.workload.next_publish(city)
                    self.acknowledged.append((node_id, submit(client, self.network.url(node_id),
                                                              raw)))
                except (httpx.HTTPError, AssertionError):
                    resync_nonces(self.network, self.workload, client)
                time.sleep(LOAD_INTERVAL_S)


def resync_nonces(network: RunningNetwork, workload: PublishWorkload,
                  client: httpx.Client) -> None:
    """Take each bureau's next nonce from the chain (pending transactions may be gone)."""
    for node_id in network.node_ids:
        city = network.preset.node(node_id).city.value
        address = network.preset.key(f"bureau:{city}").address
        try:
            answer = client.post(f"{network.url(node_id)}/rpc", json={
                "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                "params": ["0x" + address.hex(), "pending"]}).json()
            workload.nonces[f"bureau:{city}"] = int(answer["result"], 16)
        except (httpx.HTTPError, KeyError, ValueError):
            continue


def committed_hashes(network: RunningNetwork, hashes: list[tuple[str, str]]) -> set[str]:
    """The acknowledged hashes some node reports committed."""
    found = set()
    for node_id, transaction_hash in hashes:
        try:
            if is_committed(network.client, network.url(node_id), transaction_hash):
                found.add(transaction_hash)
        except httpx.HTTPError:
            continue
    return found


def committed_height(network: RunningNetwork, node_id: str,
                     transaction_hash: str) -> int | None:
    """The height of the block holding a transaction on a node, or None while it is not in one."""
    try:
        response = network.client.get(f"{network.url(node_id)}/v1/transactions/{transaction_hash}")
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or response.json()["status"] != "committed":
        return None
    return int(response.json()["block_height"])


def block_hashes(network: RunningNetwork, node_id: str, up_to: int) -> dict[int, str]:
    """Block hash by height of one node."""
    hashes = {}
    for height in range(1, up_to + 1):
        response = network.client.get(f"{network.url(node_id)}/v1/blocks/{height}")
        if response.status_code == 200:
            hashes[height] = response.json()["hash"]
    return hashes


def kill_all_cycle(network: RunningNetwork, load: Load, rng: random.Random) -> CycleResult:
    """One cycle under `load`: run, kill every node at a random moment, restart, check."""
    load.start()
    time.sleep(rng.uniform(1.0, 4.0))
    earlier = len(load.acknowledged)  # acknowledged in earlier cycles (checked in theirs)
    height_at_kill = max(network.status(n)["height"] for n in network.node_ids)
    for member in network.members:  # SIGKILL all, as close together as possible
        if member.process is not None:
            member.process.kill()
    for member in network.members:
        stop_node(member, kill=True)
    load.halt()
    acknowledged = load.acknowledged[earlier:]  # every 202 of this cycle came before the kill
    logs = network.data_dir / "logs"
    for member in network.members:
        start_node(member, logs)
    restarted = time.monotonic()
    wait_ready(network.members)
    committed = committed_hashes(network, load.acknowledged)  # every cycle's, as committed
    height_before = max(network.status(n)["height"] for n in network.node_ids)
    resync_nonces(network, load.workload, network.client)
    probe_node = network.node_ids[0]
    probe = submit(network.client, network.url(probe_node),
                   load.workload.next_publish(network.preset.node(probe_node).city.value))
    network.wait_for(lambda: is_committed(network.client, network.url(probe_node), probe),
                     RESUME_TIMEOUT_S, "a new transaction committed after the restart")
    resume_s = time.monotonic() - restarted
    network.wait_for(lambda: len({network.status(n)["height"] for n in network.node_ids}) == 1,
                     60, "every node at the same height")
    lost = [h for h in sorted(committed) if not all(
        is_committed(network.client, network.url(n), h) for n in network.node_ids)]
    heights: dict[str, int] = {}
    deadline = time.monotonic() + ACKNOWLEDGED_TIMEOUT_S
    while True:
        for node_id, transaction_hash in acknowledged:
            if transaction_hash not in heights:
                height = committed_height(network, node_id, transaction_hash)
                if height is not None:
                    heights[transaction_hash] = height
        waiting = [h for _, h in acknowledged if h not in heights]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    height_after = network.status(probe_node)["height"]
    chains = [block_hashes(network, n, height_after) for n in network.node_ids]
    divergent = [height for height in range(1, height_after + 1)
                 if len({chain.get(height) for chain in chains}) != 1]
    return CycleResult(committed_before=len(committed),
                       pending_at_kill=sum(height > height_at_kill for height in heights.values()),
                       lost=lost, acknowledged_lost=sorted(waiting),
                       divergent_heights=divergent, resume_s=resume_s,
                       height_before=height_before, height_after=height_after)


def run_cycles(cycles: int, seed: int, base_port: int, data_dir: Path) -> list[CycleResult]:
    """`cycles` kill-all cycles on a fresh local4 network."""
    rng = random.Random(seed)
    with running_network("local4", data_dir, base_port=base_port) as network:
        load = Load(network, PublishWorkload(network.preset, network.genesis))
        results = []
        for _ in range(cycles):
            results.append(kill_all_cycle(network, load, rng))
            wait_ready(network.members)
        return results


def main() -> int:
    """Command line: run cycles, print one JSON line each; exit 1 on loss or divergence."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--base-port", type=int, default=27_300)
    parser.add_argument("--data-dir", type=Path, help="keep data and node logs here")
    arguments = parser.parse_args()
    if arguments.data_dir is not None:
        results = run_cycles(arguments.cycles, arguments.seed, arguments.base_port,
                             arguments.data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="yrd-kill-all-") as directory:
            results = run_cycles(arguments.cycles, arguments.seed, arguments.base_port,
                                 Path(directory))
    failed = False
    for number, result in enumerate(results, 1):
        print(json.dumps({"cycle": number, **result.__dict__}))
        failed |= bool(result.lost or result.acknowledged_lost or result.divergent_heights)
    resumes = sorted(result.resume_s for result in results)
    print(json.dumps({"cycles": len(results), "resume_s_median": resumes[len(resumes) // 2],
                      "resume_s_max": resumes[-1],
                      "committed_lost": sum(len(r.lost) for r in results),
                      "acknowledged_lost": sum(len(r.acknowledged_lost) for r in results),
                      "divergent_heights": sum(len(r.divergent_heights) for r in results)}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
