"""One stopped node, opened in its own process for an import, and the link to it.

The process opens the node as `yrdchain node` would — its `node.toml`, the validator set from
the network's certificates, its LMDB block store and record store (taking their locks), its
consensus key — refuses a store that holds another chain, then answers `ready` and runs its
real `NodeRuntime` as a `RelayedNode` (`nodes.runtime.relay_ports`) for the coordinator
(`nodes.runtime.relay_network`). Every command is answered `(result, report)`; a command that
raises is answered with its error, which the coordinator turns into `NodeLost`.

Commands: `report` (where the node stands), `start` (catch-up, then consensus), `step`,
`submit` (payloads to the record store, then each raw transaction through admission), `prepare`
(execute ahead the block due at a given manual time, `chain.speculation`), `calls`
(view calls on the ledger), `nonce` (an address's next nonce), `reverts` (the first reverted
receipt from a height), `cpu` (the process's CPU seconds), `close`.

Each block commits in one LMDB transaction, so a process killed at any moment leaves its
stores at a whole block; the flock on the data directory goes with the process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.blocks import decode_block
from chain.consensus.validators import ValidatorSet
from chain.genesis import Genesis, build_genesis
from nodes.cluster.certificates import load_validator_set
from nodes.runtime.config import NodeConfig, load_config
from nodes.runtime.consensus_setup import default_consensus_config
from nodes.runtime.relay_network import COMMAND_STEP, NodeLost
from nodes.runtime.relay_ports import RelayedNode
from nodes.storage.blocks import DataDirectoryLocked, LmdbBlockStore, StorageError
from nodes.storage.records import LmdbRecordStore

RECORD_STORE_DIRECTORY = "records"
CHAIN_STORE_DIRECTORY = "chain"
READY = "ready"
REFUSED = "refused"
FAILED = "failed"
CLOSE_WAIT_S = 60.0  # a node closing its stores after the last command


class ImportRefused(RuntimeError):
    """The directory cannot take an import; nothing was changed."""


def open_stores(config: NodeConfig) -> tuple[LmdbBlockStore, LmdbRecordStore]:
    """A stopped node's two stores; ImportRefused if it is running or they are unusable.

    They commit without an fsync each (flushed once when they close): an import is not
    acknowledged before its end, and a killed process still leaves whole blocks."""
    try:
        store = LmdbBlockStore(config.data_dir / CHAIN_STORE_DIRECTORY, durable=False)
    except DataDirectoryLocked as error:
        raise ImportRefused(f"{config.node_id} is running ({error}); stop the network before "
                            "importing into its data directories, or use --target "
                            f"{config.url}") from error
    except StorageError as error:
        raise ImportRefused(f"{config.node_id}: {error}") from error
    try:
        records = LmdbRecordStore(config.data_dir / RECORD_STORE_DIRECTORY, durable=False)
    except StorageError as error:
        store.close()
        raise ImportRefused(f"{config.node_id} is running or its record store is unusable: "
                            f"{error}") from error
    return store, records


@dataclass
class OpenedNode:
    """A node's stores, opened and checked; its runtime is built only once every node is."""

    config: NodeConfig
    genesis: Genesis
    validator_set: ValidatorSet
    store: LmdbBlockStore
    records: LmdbRecordStore

    def relayed(self, seed: bytes, epoch_ms: int) -> RelayedNode:
        """The node's runtime (its ledger writes genesis into an empty store)."""
        config, validator_set = self.config, self.validator_set
        return RelayedNode(config.node_id, self.genesis, validator_set, config, self.store,
                           self.records,
                           default_consensus_config(config.node_id, seed, validator_set),
                           epoch_ms)

    def close(self) -> None:
        """Close both stores (their locks are released)."""
        self.records.close()
        self.store.close()


def _open(config_path: Path, network_dir: Path) -> OpenedNode:
    config = load_config(config_path)
    preset = config.preset_value
    genesis = build_genesis(preset, config.execution)
    validator_set = load_validator_set(preset, network_dir)
    store, records = open_stores(config)
    opened = OpenedNode(config, genesis, validator_set, store, records)
    stored = store.load_block(0)
    if stored is not None and decode_block(stored).hash != genesis.block.hash:
        opened.close()
        raise ImportRefused(f"{config.node_id}: its store holds another chain (its genesis is "
                            f"not {preset.name}'s with the {genesis.engine} engine): a data "
                            "directory of another network")
    return opened


def _command(node: RelayedNode, records: LmdbRecordStore, command: tuple[Any, ...]) -> Any:
    name = command[0]
    if name == COMMAND_STEP:
        _, until_ms, heights, incoming = command
        return None, node.step(until_ms, heights, incoming)
    now, heights = command[1], command[2]
    node.step(now, heights, [])  # the node's clock reads the network's time
    runtime = node.runtime
    if name == "report":
        return node.run(lambda: None)
    if name == "start":
        return node.run(runtime.start)
    if name == "submit":
        payloads, raws = command[3], command[4]

        def submit() -> None:
            if payloads:
                records.save_payloads(payloads)
            for raw in raws:  # every node is handed the window, in one order: no gossip
                runtime.submit_transaction(raw, gossip=False)
        return node.run(submit)
    if name == "prepare":  # execute ahead the block due at manual time command[3]
        at_chain_ms = node.scheduler.clock.epoch_ms + int(command[3])
        return node.run(lambda: runtime.ledger.speculate(at_chain_ms))
    if name == "calls":
        return node.run(lambda: [runtime.ledger.call(to, data).output
                                 for to, data in command[3]])
    if name == "nonce":
        return node.run(lambda: runtime.ledger.pending_nonce(command[3]))
    if name == "speculations":
        return node.run(lambda: dict(runtime.ledger.speculations))
    if name == "cpu":
        return node.run(time.process_time)
    if name == "reverts":
        return node.run(lambda: _first_revert(node, command[3]))
    raise ValueError(f"unknown command {name!r}")


def _first_revert(node: RelayedNode, first: int) -> str | None:
    ledger = node.runtime.ledger
    for height in range(first, ledger.head.height + 1):
        for receipt in ledger.receipts(height):
            if receipt.status != 1:
                return (f"transaction 0x{receipt.transaction_hash.hex()} of block {height} "
                        f"reverted: {receipt.revert_reason}")
    return None


def serve(connection: Any, config_path: Path, network_dir: Path, seed: bytes,
          epoch_ms: int) -> None:
    """The node process: open and check the stores, answer `ready` (or `refused`); build the
    runtime at the first command (every node is open by then), then answer commands."""
    try:
        opened = _open(config_path, network_dir)
    except ImportRefused as error:
        connection.send((REFUSED, str(error)))
        return
    except BaseException as error:
        connection.send((FAILED, f"{error!r}"))
        return
    node: RelayedNode | None = None
    try:
        connection.send((READY, None))
        while True:
            command = connection.recv()
            if command[0] == "close":
                break
            try:
                if node is None:
                    node = opened.relayed(seed, epoch_ms)
                connection.send(_command(node, opened.records, command))
            except Exception as error:
                connection.send((FAILED, "".join(traceback.format_exception_only(error))
                                 .strip()))
                break
    except (EOFError, OSError):
        pass  # the coordinator is gone: close the stores and end
    finally:
        if node is not None:
            node.runtime.halt()
        opened.close()
        with contextlib.suppress(OSError, EOFError):
            connection.send(("closed", None))


@dataclass
class NodeProcess:
    """The coordinator's end: the process and its pipe (a `NodeLink`)."""

    node_id: str
    process: Any
    connection: Any

    @staticmethod
    def start(config: NodeConfig, config_path: Path, network_dir: Path, seed: bytes,
              epoch_ms: int) -> NodeProcess:
        """Spawn the node's process (it shares no LMDB handle with this one)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, name=f"import-{config.node_id}", daemon=True,
                                  args=(theirs, config_path, network_dir, seed, epoch_ms))
        process.start()
        theirs.close()
        return NodeProcess(config.node_id, process, ours)

    def _lost(self, cause: BaseException | None = None) -> NodeLost:
        self.process.join(1.0)
        code = self.process.exitcode
        ended = "is still running" if code is None else f"ended (exit code {code})"
        return NodeLost(f"{self.node_id}'s process {ended} during the import"
                        + (f": {cause}" if cause else ""))

    def send(self, command: tuple[Any, ...]) -> None:
        """Send a command; NodeLost if the process is gone."""
        try:
            self.connection.send(command)
        except (OSError, EOFError) as error:
            raise self._lost() from error

    def receive(self) -> Any:
        """The answer to the last command; NodeLost if the process is gone or failed it."""
        try:
            answer = self.connection.recv()
        except (OSError, EOFError) as error:
            raise self._lost() from error
        if answer[0] == FAILED:
            raise NodeLost(f"{self.node_id} failed: {answer[1]}")
        return answer

    def ready(self) -> None:
        """Wait for the node to open its stores; ImportRefused if it refused."""
        answer = self.receive()
        if answer[0] == REFUSED:
            raise ImportRefused(answer[1])

    def close(self) -> None:
        """Ask the process to close its stores and end; end it if it does not."""
        if self.process.is_alive():
            try:
                self.connection.send(("close",))
                if self.connection.poll(CLOSE_WAIT_S):
                    self.connection.recv()
            except (OSError, EOFError):
                pass
        self.process.join(CLOSE_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()
