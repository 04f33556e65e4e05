"""`yrdchain dataset` end to end: loaded into a running local4, imported into stopped data
directories (then started and queried), and the directories an import must refuse."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from chain.genesis import build_genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from contracts import bindings
from nodes.cli.main import main
from nodes.client import Institution, NodeClient
from nodes.cluster.network import find_free_base_port, write_network
from nodes.cluster.running import start_network
from nodes.dataset.checks import sample_checks
from nodes.dataset.plan import DatasetSize, make_plan
from nodes.storage.blocks import LmdbBlockStore
from tests.e2e.network import RunningNetwork

pytestmark = pytest.mark.slow

ENTERPRISES = 24
RECORDS_PER_ENTERPRISE = 3
SEED = 5


def _dataset(capsys: pytest.CaptureFixture[str], *where: str) -> dict[str, object]:
    status = main(["dataset", *where, "--enterprises", str(ENTERPRISES),
                   "--records-per-enterprise", str(RECORDS_PER_ENTERPRISE),
                   "--seed", str(SEED), "--json"])
    assert status == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def _eth_call(url: str, to: bytes, data: bytes) -> bytes:
    response = httpx.post(f"{url}/rpc", json={
        "jsonrpc": "2.0", "id": 1, "method": "eth_call",
        "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, "latest"]}, timeout=10)
    return bytes.fromhex(response.json()["result"][2:])


def test_a_data_set_loads_into_a_running_network_and_its_dirs_refuse_an_import(
        local4: RunningNetwork, capsys: pytest.CaptureFixture[str]) -> None:
    urls = [local4.url(node_id) for node_id in local4.node_ids]
    result = _dataset(capsys, "--target", *urls)
    load = result["load"]
    assert isinstance(load, dict)
    assert (load["records"], load["registrations"], load["grants"]) == (
        ENTERPRISES * RECORDS_PER_ENTERPRISE, ENTERPRISES, ENTERPRISES)
    assert load["blocks"] >= 2  # registrations commit before the grants go in
    plan = make_plan(local4.preset, local4.genesis.contracts,
                     DatasetSize("t", ENTERPRISES, ENTERPRISES * RECORDS_PER_ENTERPRISE,
                                 ENTERPRISES), SEED)
    for check in sample_checks(plan):
        assert check.accept(_eth_call(urls[-1], check.to, check.data)), check.expected
    with pytest.raises(SystemExit, match="already registered in this network"):
        _dataset(capsys, "--target", *urls)
    assert local4.data_dir is not None
    with pytest.raises(SystemExit, match=r"is running .*stop the network"):
        main(["dataset", "--into-data", str(local4.data_dir), "--enterprises", "2"])


def test_an_import_is_certified_offline_and_the_started_nodes_serve_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "network"
    preset = get_preset("local4")
    base_port = find_free_base_port(2 * len(preset.nodes))
    assert main(["up", "--no-start", "--preset", "local4", "--data-dir", str(data_dir),
                 "--base-port", str(base_port)]) == 0
    capsys.readouterr()
    result = _dataset(capsys, "--into-data", str(data_dir), "--preset", "local4")
    load, disk = result["load"], result["disk"]
    assert isinstance(load, dict) and isinstance(disk, dict)
    assert load["records"] == ENTERPRISES * RECORDS_PER_ENTERPRISE and load["blocks"] >= 2
    assert set(disk) == {node.node_id for node in preset.nodes}
    assert all(node["bytes_per_record"] > 0 for node in disk.values())
    with pytest.raises(SystemExit, match="already registered in this network"):
        _dataset(capsys, "--into-data", str(data_dir))
    with start_network(preset, data_dir, base_port) as network:
        statuses = [network.status(node_id) for node_id in network.node_ids]
        assert len({(s["height"], s["state_root"]) for s in statuses}) == 1
        assert statuses[0]["height"] == load["blocks"]
        plan = make_plan(preset, network.genesis.contracts,
                         DatasetSize("t", ENTERPRISES, ENTERPRISES * RECORDS_PER_ENTERPRISE,
                                     ENTERPRISES), SEED)
        granted = next(p for p in plan.planned if p.bank is not None
                       and preset.institution(p.bank).city != p.code.city)
        bank_node = next(node.url for node in network.nodes
                         if node.city == preset.institution(granted.bank).city.value)
        report = Institution(preset.key(granted.bank), NodeClient(bank_node)).report(
            granted.code.code)
        records = report["records"]
        assert len(records) == granted.records
        assert {item["payload_status"] for item in records} == {"verified"}
        # the started network goes on committing on top of the imported blocks
        bureau = Institution(preset.key("bureau:shanghai"), NodeClient(network.nodes[0].url))
        published = bureau.publish(CreditRecord(granted.code, RecordKind.TAX, "2025",
                                                {"paid_cny": 1}))
        bureau.node.wait_committed(published.transaction_hash, timeout_s=60)
        count = _eth_call(network.nodes[-1].url, network.genesis.contracts.registry,
                          bindings.encode_record_count(granted.code.to_bytes32()))
        assert bindings.decode_uint(count) == granted.records + 1
        assert network.status(network.node_ids[-1])["height"] > statuses[0]["height"]


def test_an_import_refuses_another_network_and_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "network"
    preset = get_preset("local4")
    write_network(preset, data_dir, find_free_base_port(2 * len(preset.nodes)), "none")
    # one node's store holds the genesis of another chain (the reference engine's)
    store = LmdbBlockStore(data_dir / "hefei-1" / "chain")
    Ledger(store, build_genesis(preset, "evm"))
    store.close()
    with pytest.raises(SystemExit, match=r"hefei-1: .*another chain"):
        main(["dataset", "--into-data", str(data_dir), "--enterprises", "2"])
    with pytest.raises(SystemExit, match="holds a local4 network, not yrd-2021"):
        main(["dataset", "--into-data", str(data_dir), "--preset", "yrd-2021",
              "--enterprises", "2"])
    for node in preset.nodes:  # nothing was written: every other store is still empty
        if node.node_id != "hefei-1":
            store = LmdbBlockStore(data_dir / node.node_id / "chain")
            assert store.load_head() is None
            store.close()
