"""The offline import on a fresh network directory, its nodes in their own processes: a batch
that reverts stops it, named; a node process killed midway fails it and leaves whole blocks."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from chain.genesis import build_genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from nodes.cluster.network import write_network
from nodes.dataset.checks import AlreadyLoaded
from nodes.dataset.offline_import import import_dataset, open_offline_network
from nodes.dataset.plan import DatasetSize, make_plan
from nodes.runtime.relay_network import NodeLost
from nodes.storage.blocks import LmdbBlockStore

PRESET = get_preset("local4")


def test_a_reverted_batch_stops_the_import_with_its_reason(tmp_path: Path) -> None:
    write_network(PRESET, tmp_path, 24_990, "none")
    plan = make_plan(PRESET, build_genesis(PRESET).contracts, DatasetSize("t", 8, 8, 8), 2)
    city = plan.cities()[0]
    with open_offline_network(tmp_path, "local4") as offline:
        # grants before their enterprises' keys are registered: executed, and reverted
        offline.submit(list(plan.grants(city, offline.next_nonce(f"bank:{city}"))))
        with pytest.raises(RuntimeError, match="reverted: unknown enterprise"):
            offline.settle()
        heights = set(offline.heights().values())
        assert heights == {1}  # certified and committed by every node all the same


def test_a_node_process_killed_during_an_import_fails_it_and_leaves_whole_blocks(
        tmp_path: Path) -> None:
    write_network(PRESET, tmp_path, 24_990, "none")
    plan = make_plan(PRESET, build_genesis(PRESET).contracts, DatasetSize("t", 96, 192, 96), 3)
    with open_offline_network(tmp_path, "local4") as offline:
        victim = offline.processes["hefei-1"].process

        def kill_after_the_first_block(items: int, total: int) -> None:
            if victim.is_alive():
                os.kill(victim.pid, signal.SIGKILL)

        with pytest.raises(NodeLost, match=r"hefei-1's process ended \(exit code -9\) during "
                                           "the import"):
            import_dataset(offline, plan, kill_after_the_first_block, block_bytes=8_000)
        reached = offline.heights()
    assert max(reached.values()) >= 1
    for node in PRESET.nodes:  # every store opens at a whole block whose tables match its root
        store = LmdbBlockStore(tmp_path / node.node_id / "chain")
        Ledger(store, build_genesis(PRESET))
        store.close()
    # opened again, the nodes behind catch up: one height, one state root
    with open_offline_network(tmp_path, "local4") as offline:
        assert len(set(offline.heights().values())) == 1
        assert len(set(offline.state_roots().values())) == 1
        assert offline.height >= max(reached.values()) - 1
        with pytest.raises(AlreadyLoaded):
            import_dataset(offline, plan)


def test_an_import_over_node_processes_ends_at_one_height_and_state_root(tmp_path: Path) -> None:
    write_network(PRESET, tmp_path, 24_990, "none")
    plan = make_plan(PRESET, build_genesis(PRESET).contracts, DatasetSize("t", 64, 128, 64), 4)
    with open_offline_network(tmp_path, "local4") as offline:
        figures = import_dataset(offline, plan, block_bytes=16_000)
        assert figures.blocks >= 3 and figures.records == 128
        assert set(offline.heights().values()) == {figures.blocks}
        assert len(set(offline.state_roots().values())) == 1
        assert set(figures.cpu_s) == {"signer", "importer", *(n.node_id for n in PRESET.nodes)}
        assert all(cpu > 0 for cpu in figures.cpu_s.values())
        # every node executed each window ahead, and every proposal and validation reused it
        ahead = figures.executed_ahead
        assert ahead["executed"] == ahead["reused"] == figures.blocks * len(PRESET.nodes)
