"""`yrdchain node` without --config: the peer channel's port and addresses follow the HTTP ones."""

from __future__ import annotations

from pathlib import Path

import pytest

import nodes.cli.node_process as node_process
from chain.presets import get_preset
from nodes.cli.main import main
from nodes.cluster.read_worker_counts import parse_read_workers
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


def test_read_workers_are_written_read_back_and_bounded(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--read-workers N` lands in node.toml (ADR 0021); `--config` with `--read-workers`
    overrides it for that run; a count out of range is refused with a reason."""
    overrides: list[int | None] = []
    monkeypatch.setattr(node_process, "run_node",
                        lambda path, read_workers=None: overrides.append(read_workers) or 0)
    assert main(["node", "--preset", "local4", "--node-id", "shanghai-1", "--data-dir",
                 str(tmp_path), "--read-workers", "3"]) == 0
    path = tmp_path / "shanghai-1" / "node.toml"
    assert load_config(path).read_workers == 3
    assert main(["node", "--config", str(path), "--read-workers", "0"]) == 0
    assert main(["node", "--config", str(path)]) == 0
    assert overrides == [None, 0, None]
    with pytest.raises(SystemExit):
        main(["node", "--config", str(path), "--read-workers", "65"])
    path.write_text(path.read_text().replace("read_workers = 3", "read_workers = 65"))
    with pytest.raises(ValueError, match=r"read_workers must be 0\.\.64"):
        load_config(path)


def test_up_takes_read_workers_per_node_into_each_node_toml(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """`yrdchain up --read-workers 1,shanghai-1=3` (here with --no-start): 3 workers at
    shanghai-1, 1 at every other node, in each node.toml; bad counts and unknown nodes are
    refused with the reason."""
    assert main(["up", "--preset", "local4", "--data-dir", str(tmp_path), "--no-start",
                 "--base-port", "26100", "--read-workers", "1,shanghai-1=3"]) == 0
    counts = {node: load_config(tmp_path / node / "node.toml").read_workers
              for node in ("shanghai-1", "nanjing-1", "hangzhou-1", "hefei-1")}
    assert counts == {"shanghai-1": 3, "nanjing-1": 1, "hangzhou-1": 1, "hefei-1": 1}
    with pytest.raises(SystemExit, match="not a node of local4"):
        main(["up", "--preset", "local4", "--data-dir", str(tmp_path / "b"), "--no-start",
              "--read-workers", "wuhan-1=2"])
    for bad in ("65", "shanghai-1=x", "shanghai-1=2,3", "=2", "-1"):
        with pytest.raises(SystemExit):
            main(["up", "--preset", "local4", "--data-dir", str(tmp_path / "c"), "--no-start",
                  "--read-workers", bad])
    assert "is not a count 0..64" in capsys.readouterr().err


def test_read_worker_counts_read_back_as_written() -> None:
    counts = parse_read_workers("2, hefei-1=0,shanghai-1=4")
    assert (counts.of("hefei-1"), counts.of("shanghai-1"), counts.of("nanjing-1")) == (0, 4, 2)
    assert parse_read_workers(counts.text) == counts
    assert parse_read_workers("nanjing-1=1").for_preset(get_preset("local4")) == {
        "shanghai-1": 0, "nanjing-1": 1, "hangzhou-1": 0, "hefei-1": 0}
    with pytest.raises(ValueError, match="only the first item"):
        parse_read_workers("shanghai-1=1,2")
