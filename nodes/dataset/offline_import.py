"""Import a data set into stopped nodes' data directories (`yrdchain dataset --into-data`).

As `besu blocks import` does, the blocks go in through the node's own validation, and more:
they are certified by the network's own validators. Every node of the directory is opened in
its own process as it would start — its `node.toml`, its own consensus key (`node.key`, else
the preset's), the validator set admitted from the network's certificates, its LMDB block store
and record store (`nodes.dataset.node_process`) — and its real `NodeRuntime` runs the real
consensus with the others on one shared manual clock, their messages carried between the
processes by a coordinator (`nodes.runtime.relay_network`), so the nodes' work spreads over
the machine's cores. Each signed batch is
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
certificate, and a node that is running (its data directory's lock is held). A node process
that dies fails the import (`NodeLost`, naming it); every store then holds whole blocks, and
the next opening levels the nodes behind by catch-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.consensus.codec import SIZE_BYTES_MAX_BLOCK
from chain.payload_backup import payload_holders
from chain.presets import Preset, get_preset
from chain.records import payload_hash
from nodes.cluster.certificates import load_validator_set
from nodes.dataset.checks import refuse_failed, refuse_loaded, registered_key, sample_checks
from nodes.dataset.figures import LoadFigures
from nodes.dataset.node_process import ImportRefused, NodeProcess
from nodes.dataset.plan import DatasetPlan, Submission
from nodes.dataset.signing import SignedWindows
from nodes.runtime.config import NodeConfig, load_config
from nodes.runtime.peer_tls import load_node_seed
from nodes.runtime.relay_network import RelayNetwork

__all__ = ["ImportRefused", "OfflineNetwork", "import_dataset", "open_offline_network"]

CONFIG_FILE_NAME = "node.toml"
BLOCK_BYTES = SIZE_BYTES_MAX_BLOCK - 64 * 1024  # raw transactions per window: the proposal's
# block (transactions, their list encoding and the header) stays under the consensus limit
SETTLE_MS = 3_600_000  # manual time a window may take to commit before the import gives up

ProgressListener = Callable[[int, int], None]
"""Told (items committed, items in all) after each block."""


def read_network(data_dir: Path, preset_name: str | None = None) -> list[NodeConfig]:
    """Every node's configuration in a network directory; ImportRefused if it is not one
    whole network of the expected preset."""
    paths = sorted(data_dir.glob(f"*/{CONFIG_FILE_NAME}"))
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


@dataclass
class OfflineNetwork:
    """The stopped network's nodes, each in its own process, on one manual time."""

    preset: Preset
    configs: dict[str, NodeConfig]
    processes: dict[str, NodeProcess]
    relay: RelayNetwork
    homes: dict[str, str] = field(default_factory=dict)  # city -> its first node

    def ask(self, node_ids: list[str], name: str, *arguments: Any) -> list[Any]:
        """A command to some nodes at the network's current time; their results."""
        relay = self.relay
        heights = relay.heights()
        return relay.ask(node_ids, lambda _: (name, relay.now, heights, *arguments))

    def heights(self) -> dict[str, int]:
        """Every node's head height."""
        return self.relay.heights()

    def state_roots(self) -> dict[str, bytes]:
        """Every node's head state root."""
        return {node_id: report.state_root for node_id, report in self.relay.reports.items()}

    @property
    def first(self) -> str:
        """The first node (nonces, reads and receipts are asked of it)."""
        return next(iter(self.configs))

    @property
    def height(self) -> int:
        """The first node's head height."""
        return self.relay.reports[self.first].height

    def next_nonce(self, label: str) -> int:
        """An institution's next nonce, committed and pending, at the first node."""
        return int(self.ask([self.first], "nonce", self.preset.key(label).address)[0])

    def submit(self, window: list[Submission]) -> None:
        """Store each publish's payloads at their holders (as its home node's REST route
        would), then hand the window to every node in one order, each admitting every
        transaction itself: what gossip delivers, but in the same order everywhere, so that
        every node's next block is the proposer's (`prepare`)."""
        payloads: dict[str, list[tuple[bytes, bytes]]] = {node: [] for node in self.configs}
        for submission in window:
            if submission.payloads:
                items = [(payload_hash(p), p) for p in submission.payloads]
                for holder in payload_holders(self.preset, self.homes[submission.city]):
                    payloads[holder].extend(items)
        raws = [submission.raw for submission in window]
        relay = self.relay
        heights = relay.heights()
        relay.ask(list(self.configs),
                  lambda node: ("submit", relay.now, heights, payloads[node], raws))

    def prepare(self, count: int) -> None:
        """Once every node holds a submitted window's `count` transactions, have every node
        execute ahead the block the round's proposer builds at the earliest timer due
        (`chain.speculation`): the four executions run at once on the machine's cores, and the
        proposal and its validations reuse them."""
        reports = self.relay.reports
        if not all(report.pending >= count for report in reports.values()):
            return
        due = [report.next_ms for report in reports.values() if report.next_ms is not None]
        if due:
            self.ask(list(self.configs), "prepare", min(due))

    def settle(self) -> None:
        """Run the network until every node has committed everything pending, at one height;
        RuntimeError if a transaction of the new blocks reverted."""
        first = self.height + 1
        reports = self.relay.reports

        def settled() -> bool:
            return (len({report.height for report in reports.values()}) == 1
                    and not any(report.pending for report in reports.values()))

        if not self.relay.run_until(settled, self.relay.now + SETTLE_MS):
            raise RuntimeError(f"the import stalled: heights {self.heights()}, pending "
                               f"{[report.pending for report in reports.values()]}")
        reverted = self.ask([self.first], "reverts", first)[0]
        if reverted is not None:
            raise RuntimeError(reverted)

    def refuse_present(self, plan: DatasetPlan) -> None:
        """AlreadyLoaded when the data set's first enterprise already has a key on chain."""
        check = registered_key(plan)
        refuse_loaded(check, self.ask([self.first], "calls", [(check.to, check.data)])[0][0])

    def verify(self, plan: DatasetPlan) -> None:
        """Read a seeded sample back on every node; RuntimeError if one is off."""
        checks = sample_checks(plan)
        calls = [(check.to, check.data) for check in checks]
        for outputs in self.ask(list(self.configs), "calls", calls):
            for check, output in zip(checks, outputs, strict=True):
                refuse_failed(check, output)

    def executed_ahead(self) -> dict[str, int]:
        """Blocks the nodes executed ahead of their proposal, and how many were reused."""
        counts = self.ask(list(self.configs), "speculations")
        return {kind: sum(count[kind] for count in counts) for kind in ("executed", "reused")}

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds each node's process has used so far."""
        return dict(zip(self.configs, self.ask(list(self.configs), "cpu"), strict=True))

    def close(self) -> None:
        """Every node process closes its stores and ends."""
        for process in self.processes.values():
            process.close()


def _checked_seeds(data_dir: Path, preset: Preset, configs: list[NodeConfig]) -> dict[str, bytes]:
    """Every node's consensus seed; ImportRefused if one does not match its certificate."""
    validator_set = load_validator_set(preset, data_dir)
    admitted = {validator.node_id: validator.public_key for validator in validator_set.validators}
    seeds = {}
    for config in configs:
        seeds[config.node_id] = load_node_seed(preset, config.node_id, config.data_dir)
        if admitted.get(config.node_id) != bytes(SigningKey(seeds[config.node_id]).verify_key):
            raise ImportRefused(f"{config.node_id}: its key does not match its certificate "
                                f"in {data_dir / 'certs'} (a data directory of another "
                                "network?)")
    return seeds


@contextmanager
def open_offline_network(data_dir: Path, preset_name: str | None = None
                         ) -> Iterator[OfflineNetwork]:
    """Start a process for every stopped node of a network directory (each opens and checks its
    stores; nothing runs until all are open), then start their runtimes (catch-up first: a node
    behind the others syncs from them); close all of it on the way out."""
    configs = read_network(data_dir, preset_name)
    preset = configs[0].preset_value
    seeds = _checked_seeds(data_dir, preset, configs)
    epoch_ms = int(time.time() * 1000)
    processes: dict[str, NodeProcess] = {}
    relay = RelayNetwork({})
    offline = OfflineNetwork(preset, {config.node_id: config for config in configs}, processes,
                             relay)
    try:
        for config in configs:
            process = NodeProcess.start(config, config.data_dir / CONFIG_FILE_NAME, data_dir,
                                        seeds[config.node_id], epoch_ms)
            processes[config.node_id] = relay.links[config.node_id] = process
            offline.homes.setdefault(preset.node(config.node_id).city.value, config.node_id)
        refusals = []
        for process in processes.values():
            try:
                process.ready()
            except ImportRefused as error:
                refusals.append(str(error))
        if refusals:
            raise ImportRefused("; ".join(refusals))
        # catch-up needs the others' heights: a first round of reports, then start everyone
        offline.ask(list(processes), "report")
        offline.ask(list(processes), "start")
        if not relay.run_until(lambda: all(r.started for r in relay.reports.values()),
                               relay.now + SETTLE_MS):
            raise RuntimeError(f"the nodes did not start: heights {relay.heights()}")
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
    began, cpu_began = time.monotonic(), time.process_time()
    nodes_began = offline.cpu_s()  # their start (imports, genesis, opening) is not the import's
    nonces = {label: offline.next_nonce(label) for city in plan.cities()
              for label in (f"bureau:{city}", f"bank:{city}")}
    items = transactions = 0
    signer = SignedWindows.start(plan, nonces, block_bytes)
    try:
        for _phase in ("registrations", "grants and publishes"):
            for window in signer.phase():
                offline.submit(window)
                offline.prepare(len(window))
                offline.settle()
                items += sum(submission.units for submission in window)
                transactions += len(window)
                if on_progress is not None:
                    on_progress(items, total)
        cpu_s = {"signer": signer.cpu_s()}
    finally:
        signer.close()
    offline.verify(plan)
    cpu_s.update({node: cpu - nodes_began[node] for node, cpu in offline.cpu_s().items()})
    cpu_s["importer"] = time.process_time() - cpu_began
    return LoadFigures.of(time.monotonic() - began, transactions, plan,
                          offline.height - start_height, cpu_s, offline.executed_ahead())
