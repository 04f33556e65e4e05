"""One node process's life in this process (nodes/cli/node_process.py): it writes its network's
certificates, opens its stores, serves its app over a real socket, and on SIGTERM stops serving
and closes its stores so a second start reopens the same chain."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

import nodes.cli.node_process as node_process
from nodes.cli.main import main
from nodes.cluster.network import find_free_base_port
from nodes.runtime.config import NodeConfig, load_config
from nodes.runtime.pending import JOURNAL_FILE_NAME

READY_TIMEOUT_S = 60.0


def write_config(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> NodeConfig:
    """`yrdchain node` writes the node's configuration (running it is what the test does)."""
    base = find_free_base_port(1)
    with monkeypatch.context() as patched:
        patched.setattr(node_process, "run_node", lambda path: 0)
        assert main(["node", "--preset", "local4", "--node-id", "shanghai-1", "--data-dir",
                     str(data_dir), "--port", str(base), "--peer-port", str(base + 1)]) == 0
    return load_config(data_dir / "shanghai-1" / "node.toml")


async def serve_until_status_then_stop(config: NodeConfig) -> dict[str, object]:
    serving = asyncio.create_task(node_process.serve_node(config))
    status: dict[str, object] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
        while not status:
            assert not serving.done(), serving.exception()
            assert asyncio.get_running_loop().time() < deadline, "the node never answered"
            try:
                response = await client.get(f"{config.url}/status")
                if response.status_code == 200:
                    status = response.json()
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)  # the node's own handler: stop serving, close stores
    await asyncio.wait_for(serving, READY_TIMEOUT_S)
    async with httpx.AsyncClient(timeout=1.0) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{config.url}/status")
    return status


def test_a_node_serves_its_chain_and_stops_cleanly_on_sigterm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, monkeypatch)
    status = asyncio.run(serve_until_status_then_stop(config))
    assert (status["node_id"], status["preset"], status["height"]) == ("shanghai-1", "local4", 0)
    assert [v["node_id"] for v in status["validators"]] == [  # type: ignore[union-attr]
        "shanghai-1", "nanjing-1", "hangzhou-1", "hefei-1"]
    node_dir = config.data_dir
    assert (node_dir / "chain").is_dir() and (node_dir / "records").is_dir()
    assert (node_dir / JOURNAL_FILE_NAME).exists()
    assert (tmp_path / "ca.pem").exists()
    assert sorted(path.name for path in (tmp_path / "certs").glob("*.pem")) == [
        "hangzhou-1.pem", "hefei-1.pem", "nanjing-1.pem", "shanghai-1.pem"]
    again = asyncio.run(serve_until_status_then_stop(config))  # the stores were closed
    assert again["last_block_hash"] == status["last_block_hash"]
