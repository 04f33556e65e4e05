"""`yrdchain up`: a whole network of node processes on one machine.

Node i of the preset listens on base-port + i. Each node's configuration is written to
`DATA_DIR/<node-id>/node.toml`, so one node can be stopped and started again on its own with
`yrdchain node --config …`. Ctrl-C stops every node cleanly; running `up` again on the same data
directory resumes the chain.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from chain.presets import Preset
from nodes.cluster.certificates import ensure_certificates
from nodes.runtime.config import NodeConfig, save_config

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0


@dataclass
class NetworkProcess:
    """A running node process and its configuration."""

    config: NodeConfig
    config_path: Path
    process: subprocess.Popen[bytes] | None = None


FREE_PORT_RANGE = (20_000, 32_000)  # below the ephemeral ports outgoing connections use


def find_free_base_port(count: int, attempts: int = 200) -> int:
    """A base port for `count` nodes: 2 x `count` consecutive ports free on loopback right now.

    Each node takes an HTTP port (base + index) and a peer-channel port (base + count + index).
    The base is drawn below Linux's ephemeral range (32768-60999 by default): a port found free
    there could otherwise be taken as the source port of an outgoing connection (the first
    nodes dialling their peers) before the node meant to listen on it binds it.
    """
    count *= 2
    draw = random.SystemRandom()
    for _ in range(attempts):
        base = draw.randrange(FREE_PORT_RANGE[0], FREE_PORT_RANGE[1] - count)
        sockets: list[socket.socket] = []
        try:
            for offset in range(count):
                bound = socket.socket()
                sockets.append(bound)
                bound.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for bound in sockets:
                bound.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


CONTROL_TOKEN_BYTES = 24


def new_control_token() -> str:
    """A fresh random token for a network started with control on: every node of the network
    holds it, the dashboard's control requests carry it (nodes/dashboard/control_guard.py)."""
    return secrets.token_urlsafe(CONTROL_TOKEN_BYTES)


def write_network(preset: Preset, data_dir: Path, base_port: int, latency: str,
                  control: bool = False, host: str = "127.0.0.1",
                  execution: str = "native", read_workers: int | Mapping[str, int] = 0
                  ) -> list[NetworkProcess]:
    """Write every node's configuration and the network's certificates.

    read_workers: read worker processes of every node, or by node id (ADR 0021).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_certificates(preset, data_dir)
    urls = {node.node_id: f"http://{host}:{base_port + index}"
            for index, node in enumerate(preset.nodes)}
    channels = {node.node_id: f"{host}:{base_port + len(preset.nodes) + index}"
                for index, node in enumerate(preset.nodes)}
    token = new_control_token() if control else ""
    network = []
    for index, node in enumerate(preset.nodes):
        config = NodeConfig(
            node_id=node.node_id, preset=preset.name, data_dir=data_dir / node.node_id,
            host=host, port=base_port + index,
            peers={peer: url for peer, url in urls.items() if peer != node.node_id},
            latency=latency, control=control, execution=execution, control_token=token,
            peer_port=base_port + len(preset.nodes) + index,
            peer_channels={peer: address for peer, address in channels.items()
                           if peer != node.node_id},
            read_workers=read_workers if isinstance(read_workers, int)
            else read_workers.get(node.node_id, 0),
        )
        path = data_dir / node.node_id / "node.toml"
        save_config(config, path)
        network.append(NetworkProcess(config, path))
    return network


def start_node(member: NetworkProcess, log_dir: Path | None = None) -> None:
    """Start one node process."""
    log = open(os.devnull, "wb") if log_dir is None else open(  # noqa: SIM115
        log_dir / f"{member.config.node_id}.log", "ab")
    member.process = subprocess.Popen(
        [sys.executable, "-m", "nodes.cli.main", "node", "--config", str(member.config_path)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_ready(network: list[NetworkProcess], timeout_s: float = READY_TIMEOUT_S,
               on_ready: Callable[[str, int, int], None] | None = None) -> None:
    """Wait until every node answers /status; RuntimeError naming the ones that do not.

    on_ready: told (node id, nodes ready so far, nodes in all) as each node answers.
    """
    deadline = time.monotonic() + timeout_s
    waiting = {m.config.node_id: m for m in network}
    with httpx.Client(timeout=1.0) as client:
        while waiting and time.monotonic() < deadline:
            for node_id, member in list(waiting.items()):
                if member.process is not None and member.process.poll() is not None:
                    raise RuntimeError(f"{node_id} exited with code {member.process.returncode}")
                try:
                    if client.get(f"{member.config.url}/status").status_code == 200:
                        del waiting[node_id]
                        if on_ready is not None:
                            on_ready(node_id, len(network) - len(waiting), len(network))
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
    if waiting:
        raise RuntimeError(f"nodes not ready after {timeout_s:.0f} s: {sorted(waiting)}")


def stop_node(member: NetworkProcess, kill: bool = False) -> None:
    """Stop a node: SIGTERM and wait, or SIGKILL at once."""
    process = member.process
    if process is None or process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

