"""Import a data set into stopped nodes' data directories (`yrdchain dataset --into-data`).

As `besu blocks import` does, the blocks go in through the node's own validation, and more:
they are certified by the network's own validators. Every node of the directory is opened as it
would start — its `node.toml`, its own consensus key (`node.key`, else the preset's), the
validator set admitted from the network's certificates, its LMDB block store and record store —
and its real `NodeRuntime` runs the real consensus with the others over the in-memory transport
on a manual clock (`nodes.runtime.memory_ports`, as the simulator does). Each signed batch is
submitted to its sender's home node like a REST request: admitted (signature, role, nonce),
gossiped to every node, proposed by the round's leader, executed by every validator against
its own tables, certified by a quorum of signatures, and committed to every store. Nothing is
written to a block store that a node did not verify and execute; the payloads of a publish
batch go to the record stores of the nodes that hold them (`chain.payload_backup`) before the
transaction is submitted, as `POST /v1/records` puts them.

Work goes in windows of about one block (`BLOCK_BYTES`, under the consensus block limit):
a window is submitted at one instant of the manual clock, so the leader proposes it as one block,
and the network is run until every node has committed it. Chain time is the wall clock at the
start of the import plus the manual clock, so imported blocks carry honest, increasing times
below the wall clock at which the nodes are started again.

Refused, with nothing changed: a directory without a network, a network of another preset, a
node whose store holds another chain (its genesis differs), a node key that does not match its
certificate, and a node that is running (its data directory's lock is held).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey

from chain.blocks import decode_block
from chain.consensus.codec import SIZE_BYTES_MAX_BLOCK
from chain.genesis import build_genesis
from chain.payload_backup import payload_holders
from chain.presets import Preset, get_preset
from chain.records import payload_hash
from nodes.cluster.certificates import load_validator_set
from nodes.dataset.checks import refuse_failed, refuse_loaded, registered_key, sample_checks
from nodes.dataset.figures import LoadFigures
from nodes.dataset.plan import DatasetPlan, Submission
from nodes.dataset.signing import SignedWindows
from nodes.runtime.config import NodeConfig, load_config
from nodes.runtime.memory_ports import ManualClock, ManualScheduler, MemoryNetwork, memory_runtime
from nodes.runtime.node import NodeRuntime, default_consensus_config
from nodes.runtime.peer_tls import load_node_seed
from nodes.storage.blocks import DataDirectoryLocked, LmdbBlockStore, StorageError
from nodes.storage.records import LmdbRecordStore

BLOCK_BYTES = SIZE_BYTES_MAX_BLOCK - 64 * 1024  # raw transactions per window: the proposal's
# block (transactions, their list encoding and the header) stays under the consensus limit
SETTLE_MS = 3_600_000  # manual time a window may take to commit before the import gives up
RECORD_STORE_DIRECTORY = "records"
CHAIN_STORE_DIRECTORY = "chain"

ProgressListener = Callable[[int, int], None]
"""Told (items committed, items in all) after each block."""


class ImportRefused(RuntimeError):
    """The directory cannot take an import; nothing was changed."""


@dataclass
class OfflineNode:
    """One stopped node opened for the import: its configuration and stores."""

    config: NodeConfig
    store: LmdbBlockStore
    records: LmdbRecordStore

    def close(self) -> None:
        """Close both stores (their locks are released)."""
        self.records.close()
        self.store.close()


def read_network(data_dir: Path, preset_name: str | None = None) -> list[NodeConfig]:
    """Every node's configuration in a network directory; ImportRefused if it is not one
    whole network of the expected preset."""
    paths = sorted(data_dir.glob("*/node.toml"))
    if not paths:
        raise ImportRefused(f"{data_dir} holds no network (no <node-id>/node.toml): write one "
                            "with `yrdchain up --no-start`, or give --preset to write it here")
    configs = [load_config(path) for path in paths]
    presets = sorted({config.preset for config in configs})
    if len(presets) != 1:
        raise ImportRefused(f"{data_dir} mixes nodes of several networks: {presets}")
    preset = get_preset(presets[0])
    if preset_name is not None and preset.name != preset_name:
        raise ImportRefused(f"{data_dir} holds a {preset.name} network, not {preset_name}: "
                            "a data set is imported into the network it was made for")
    engines = sorted({config.execution for config in configs})
    if len(engines) != 1:
        raise ImportRefused(f"{data_dir}: its nodes run different engines {engines}")
    found = {config.node_id for config in configs}
    wanted = {node.node_id for node in preset.nodes}
    if found != wanted:
        raise ImportRefused(f"{data_dir}: the nodes {sorted(found)} are not the {preset.name} "
                            f"network {sorted(wanted)}")
    order = [node.node_id for node in preset.nodes]
    return sorted(configs, key=lambda config: order.index(config.node_id))


def _open_node(config: NodeConfig) -> OfflineNode:
    try:
        store = LmdbBlockStore(config.data_dir / CHAIN_STORE_DIRECTORY)
    except DataDirectoryLocked as error:
        raise ImportRefused(f"{config.node_id} is running ({error}); stop the network before "
                            "importing into its data directories, or use --target "
                            f"{config.url}") from error
    except StorageError as error:
        raise ImportRefused(f"{config.node_id}: {error}") from error
    try:
        records = LmdbRecordStore(config.data_dir / RECORD_STORE_DIRECTORY)
    except StorageError as error:
        store.close()
        raise ImportRefused(f"{config.node_id} is running or its record store is unusable: "
                            f"{error}") from error
    return OfflineNode(config, store, records)


@dataclass
class OfflineNetwork:
    """The stopped network's nodes, driven by their own runtimes on one manual clock."""

    preset: Preset
    nodes: dict[str, OfflineNode]
    network: MemoryNetwork
    homes: dict[str, str] = field(default_factory=dict)  # city -> its first node

    def runtime(self, node_id: str) -> NodeRuntime:
        """A node's runtime."""
        return self.network.runtimes[node_id]

    @property
    def height(self) -> int:
        """The first node's head height."""
        return self.runtime(next(iter(self.nodes))).ledger.head.height

    def next_nonce(self, label: str) -> int:
        """An institution's next nonce, committed and pending, at its home node."""
        address = self.preset.key(label).address
        return self.runtime(next(iter(self.nodes))).ledger.pending_nonce(address)

    def submit(self, window: list[Submission]) -> None:
        """Store each publish's payloads at their holders, then submit it at its home node."""
        by_holder: dict[str, list[tuple[bytes, bytes]]] = {}
        for submission in window:
            if submission.payloads:
                items = [(payload_hash(p), p) for p in submission.payloads]
                for holder in payload_holders(self.preset, self.homes[submission.city]):
                    by_holder.setdefault(holder, []).extend(items)
        for holder, items in by_holder.items():
            self.nodes[holder].records.save_payloads(items)
        for submission in window:
            self.runtime(self.homes[submission.city]).submit_transaction(submission.raw)

    def settle(self) -> None:
        """Run the network until every node has committed everything pending, at one height;
        RuntimeError if a transaction of the new blocks reverted."""
        runtimes = list(self.network.runtimes.values())
        first = self.height + 1

        def settled() -> bool:
            heights = {runtime.ledger.head.height for runtime in runtimes}
            return len(heights) == 1 and not any(len(r.ledger.mempool) for r in runtimes)

        scheduler = self.network.scheduler
        if not scheduler.run_until(scheduler.clock.now + SETTLE_MS, settled):
            heights = {node_id: r.ledger.head.height
                       for node_id, r in self.network.runtimes.items()}
            raise RuntimeError(f"the import stalled: heights {heights}, pending "
                               f"{[len(r.ledger.mempool) for r in runtimes]}")
        ledger = runtimes[0].ledger
        for height in range(first, ledger.head.height + 1):
            for receipt in ledger.receipts(height):
                if receipt.status != 1:
                    raise RuntimeError(f"transaction 0x{receipt.transaction_hash.hex()} of block "
                                       f"{height} reverted: {receipt.revert_reason}")

    def refuse_present(self, plan: DatasetPlan) -> None:
        """AlreadyLoaded when the data set's first enterprise already has a key on chain."""
        check = registered_key(plan)
        refuse_loaded(check, self.runtime(next(iter(self.nodes))).ledger.call(
            check.to, check.data).output)

    def verify(self, plan: DatasetPlan) -> None:
        """Read a seeded sample back on every node; RuntimeError if one is off."""
        for runtime in self.network.runtimes.values():
            for check in sample_checks(plan):
                refuse_failed(check, runtime.ledger.call(check.to, check.data).output)

    def close(self) -> None:
        """Stop every runtime and close every store."""
        for runtime in self.network.runtimes.values():
            runtime.halt()
        for node in self.nodes.values():
            node.close()


@contextmanager
def open_offline_network(data_dir: Path, preset_name: str | None = None
                         ) -> Iterator[OfflineNetwork]:
    """Open every stopped node of a network directory and start its runtime (catch-up first:
    a node behind the others syncs from them); close all of it on the way out."""
    configs = read_network(data_dir, preset_name)
    preset = configs[0].preset_value
    genesis = build_genesis(preset, configs[0].execution)
    validator_set = load_validator_set(preset, data_dir)
    admitted = {validator.node_id: validator.public_key for validator in validator_set.validators}
    opened: dict[str, OfflineNode] = {}
    network = MemoryNetwork(genesis, validator_set,
                            ManualScheduler(ManualClock(epoch_ms=int(time.time() * 1000))))
    offline = OfflineNetwork(preset, opened, network)
    try:
        seeds = {}
        for config in configs:  # every check before anything is written
            seeds[config.node_id] = load_node_seed(preset, config.node_id, config.data_dir)
            if admitted.get(config.node_id) != bytes(SigningKey(seeds[config.node_id]).verify_key):
                raise ImportRefused(f"{config.node_id}: its key does not match its certificate "
                                    f"in {data_dir / 'certs'} (a data directory of another "
                                    "network?)")
            node = opened[config.node_id] = _open_node(config)
            stored = node.store.load_block(0)
            if stored is not None and decode_block(stored).hash != genesis.block.hash:
                raise ImportRefused(f"{config.node_id}: its store holds another chain (its "
                                    f"genesis is not {preset.name}'s with the {genesis.engine} "
                                    "engine): a data directory of another network")
        for config in configs:
            node = opened[config.node_id]
            network.runtimes[config.node_id] = memory_runtime(
                network, config.node_id, node.store,
                default_consensus_config(config.node_id, seeds[config.node_id], validator_set),
                config.data_dir, node.records)
            offline.homes.setdefault(preset.node(config.node_id).city.value, config.node_id)
        for runtime in list(network.runtimes.values()):
            runtime.start()
        scheduler = network.scheduler
        scheduler.run_until(scheduler.clock.now + SETTLE_MS,
                            lambda: all(r.started for r in network.runtimes.values()))
        yield offline
    finally:
        offline.close()


def import_dataset(offline: OfflineNetwork, plan: DatasetPlan,
                   on_progress: ProgressListener | None = None,
                   block_bytes: int = BLOCK_BYTES) -> LoadFigures:
    """Run the data set through the network's consensus, window by window (built and signed
    in a worker process, `nodes.dataset.signing`)."""
    offline.refuse_present(plan)
    total = len(plan.planned) + plan.grants_count + plan.records
    start_height = offline.height
    began = time.monotonic()
    nonces = {label: offline.next_nonce(label) for city in plan.cities()
              for label in (f"bureau:{city}", f"bank:{city}")}
    items = transactions = 0
    signer = SignedWindows.start(plan, nonces, block_bytes)
    try:
        for _phase in ("registrations", "grants and publishes"):
            for window in signer.phase():
                offline.submit(window)
                offline.settle()
                items += sum(submission.units for submission in window)
                transactions += len(window)
                if on_progress is not None:
                    on_progress(items, total)
    finally:
        signer.close()
    offline.verify(plan)
    return LoadFigures.of(time.monotonic() - began, transactions, plan,
                          offline.height - start_height)
