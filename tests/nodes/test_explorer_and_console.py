"""`yrdchain tx | block` (nodes/cli/explorer.py), `yrdchain console -c` (nodes/cli/console.py) and
`python -m nodes.cli` (nodes/cli/__main__.py) against a node app served over a real socket."""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Iterator

import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from nodes.api.limits import HttpLimits
from nodes.cli.console import console_namespace
from nodes.cli.explorer import parse_hash
from nodes.cli.main import main
from nodes.cli.session import EXIT_USAGE, UsageError
from nodes.client import NodeClient
from nodes.cluster.network import find_free_base_port
from tests.nodes.api_node import ApiNode, make_api_node, tax_record
from tests.nodes.served_node import ServedApp, served


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    """A node with one committed block holding one publish."""
    node = make_api_node(preset, genesis, tmp_path_factory.mktemp("explorer"))
    response = node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:1")))
    assert response.status_code == 202, response.text
    node.commit()
    return node


@pytest.fixture(scope="module")
def server(node: ApiNode) -> Iterator[ServedApp]:
    app = node.client.app
    with served(app, find_free_base_port(1), HttpLimits()) as serving:  # type: ignore[arg-type]
        yield serving


def run_json(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(arguments) == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def test_block_and_tx_show_what_the_node_committed(node: ApiNode, server: ServedApp,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    block = node.runtime.ledger.block(1)
    latest = run_json(["block", "--node", server.url, "--json"], capsys)
    assert latest["height"] == 1 and latest["hash"] == "0x" + block.hash.hex()
    [digest] = latest["transactions"]  # type: ignore[misc]
    assert run_json(["block", "1", "--node", server.url, "--json"], capsys) == latest
    transaction = run_json(["tx", digest, "--node", server.url, "--json"], capsys)
    assert (transaction["transaction_hash"], transaction["status"]) == (digest, "committed")
    assert (transaction["block_height"], transaction["index"]) == (1, 0)
    assert transaction["receipt"]["status"] == 1  # type: ignore[index]
    assert main(["block", "--node", server.url]) == 0
    human = capsys.readouterr().out
    assert f"transactions: 1\n  {digest}" in human


def test_a_bad_height_or_hash_is_a_usage_error(server: ServedApp,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["block", "tip", "--node", server.url]) == EXIT_USAGE
    assert "the block is `latest` or a height" in capsys.readouterr().err
    assert main(["tx", "0x1234", "--node", server.url]) == EXIT_USAGE
    assert "must be 32 bytes" in capsys.readouterr().err
    with pytest.raises(UsageError, match="hex digits"):
        parse_hash("0x" + "zz" * 32, "the record id")
    assert parse_hash("AB" * 32, "a hash") == bytes([0xAB]) * 32


def test_the_console_binds_the_node_and_the_development_identities(
        preset: Preset, genesis: Genesis, server: ServedApp,
        capsys: pytest.CaptureFixture[str]) -> None:
    client = NodeClient(server.url)
    try:
        namespace = console_namespace(client)
    finally:
        client.close()
    assert namespace["preset"] == preset
    assert namespace["genesis"].contracts == genesis.contracts
    assert set(namespace["accounts"]) == {spec.label for spec in preset.institutions} | {
        spec.label for spec in preset.enterprises}
    script = ("bank = institution('bank:shanghai')\n"
              "print(node.status()['height'], bank.address.hex(), accounts['regulator'])")
    assert main(["console", "--node", server.url, "--command", script]) == 0
    height, address, regulator = capsys.readouterr().out.split()
    assert (int(height), address) == (1, preset.key("bank:shanghai").address.hex())
    assert regulator == namespace["accounts"]["regulator"]


def test_python_m_nodes_cli_is_the_node_command_line(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["nodes.cli", "keys", "--preset", "local4", "--json"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("nodes.cli", run_name="__main__")
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)["preset"] == "local4"

