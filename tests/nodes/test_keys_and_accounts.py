"""`yrdchain keys` (nodes/cluster/keys.py) and the accounts `yrdchain up` prints (nodes/cli/up.py):
every key listed signs for the address listed beside it, and the contracts are genesis's."""

from __future__ import annotations

from pathlib import Path

from chain.crypto import PrivateKey, checksum_address
from chain.enterprise import parse_credit_code
from chain.genesis import Genesis
from chain.presets import Preset
from nodes.cli.up import print_accounts, run_network
from nodes.cluster.keys import describe_keys


def test_every_listed_key_derives_the_listed_address(preset: Preset) -> None:
    described = describe_keys(preset)
    accounts = described["institutions"] + described["enterprises"]
    assert len(described["institutions"]) == len(preset.institutions)
    assert len(described["enterprises"]) == len(preset.enterprises)
    for account in accounts:
        key = PrivateKey.from_secret(bytes.fromhex(account["private_key"][2:]))
        assert checksum_address(key.address) == account["address"], account["label"]
    for enterprise in described["enterprises"]:
        code = parse_credit_code(enterprise["credit_code"])
        assert code.city.value == enterprise["city"]


def test_contracts_and_nodes_are_those_of_the_chain(preset: Preset, genesis: Genesis) -> None:
    described = describe_keys(preset)
    assert (described["preset"], described["chain_id"]) == (preset.name, preset.chain_id)
    assert described["contracts"] == {
        "Consortium": checksum_address(genesis.contracts.consortium),
        "CreditRegistry": checksum_address(genesis.contracts.registry),
        "Authorization": checksum_address(genesis.contracts.authorization),
    }
    assert [(n["node_id"], bytes.fromhex(n["public_key"])) for n in described["nodes"]] == [
        (node.node_id, preset.node_public_key(node.node_id)) for node in preset.nodes]


def test_up_prints_each_account_with_its_key_and_the_contracts(preset: Preset) -> None:
    lines: list[str] = []
    print_accounts(preset, lines.append)
    described = describe_keys(preset)
    assert "never use them on a real network" in lines[0]
    for account in described["institutions"] + described["enterprises"]:
        [line] = [line for line in lines if line.split()[0] == account["label"]]
        assert account["address"] in line and account["private_key"] in line
    assert lines[-1].startswith("Contracts: Consortium ")
    assert described["contracts"]["Authorization"] in lines[-1]


def test_up_reports_a_network_that_cannot_start_and_stops(preset: Preset,
                                                          tmp_path: Path) -> None:
    data_dir = tmp_path / "occupied"
    data_dir.write_text("a file where the network's directory should go", encoding="utf-8")
    lines: list[str] = []
    assert run_network(preset, data_dir, 24_000, "none", control=False, say=lines.append) == 1
    assert lines[0].startswith(f"yrdchain up {preset.name}: starting {len(preset.nodes)} nodes")
    assert any(line.startswith("error: ") for line in lines), lines
    assert lines[-1] == "all nodes stopped"
