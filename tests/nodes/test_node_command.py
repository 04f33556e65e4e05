"""`yrdchain node` without --config: the peer channel's port and addresses follow the HTTP ones."""

from __future__ import annotations

from pathlib import Path

import pytest

import nodes.cli.node_process as node_process
from nodes.cli.main import main
from nodes.runtime.config import load_config


def test_channel_addresses_default_to_the_peer_hosts(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_process, "run_node", lambda path: 0)  # write the config only
    assert main(["node", "--preset", "local4", "--node-id", "shanghai-1", "--data-dir",
                 str(tmp_path), "--port", "26600", "--peer-url-template",
                 "http://{node_id}.yrd.test:26600"]) == 0
    config = load_config(tmp_path / "shanghai-1" / "node.toml")
    assert config.peer_port == 26700
    assert config.peer_channels["hefei-1"] == "hefei-1.yrd.test:26700"
    assert config.peers["hefei-1"] == "http://hefei-1.yrd.test:26600"
    assert main(["node", "--preset", "local4", "--node-id", "hefei-1", "--data-dir",
                 str(tmp_path), "--peer-port", "9000", "--peer-channel-template",
                 "10.0.0.{node_id}:9000"]) == 0
    assert load_config(tmp_path / "hefei-1" / "node.toml").peer_channels["shanghai-1"] == (
        "10.0.0.shanghai-1:9000")
