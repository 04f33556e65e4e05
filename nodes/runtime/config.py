"""A node's configuration: who it is, where it keeps its data, how to reach its peers.

`yrdchain up` writes one `node.toml` per node into `DATA_DIR/<node-id>/`; `yrdchain node
--config FILE` reads it back, so a crashed node can be restarted on its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from chain.engine import ENGINES, NATIVE_ENGINE
from chain.presets import Preset, get_preset

LATENCY_MODES = ("none", "regional")
MAX_READ_WORKERS = 64  # worker processes per node; more than the cores of any target machine


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything one node process needs.

    peers: node id -> base URL of every other validator.
    latency: "none", or "regional" to delay each outgoing link by the modelled one-way delay
    between the two cities.
    control: whether the node accepts control requests (stop, partition, slow a link) from the
    dashboard.
    execution: "native" (system contracts as native handlers over tables) or "evm" (the Vyper
    bytecode on py-evm, the reference); every node of a network must use the same.
    peer_port: the port of this node's peer channel (mutual TLS), 0 for none.
    peer_channels: node id -> "host:port" of every other validator's peer channel.
    control_token: the secret a control request must carry (nodes/dashboard/control_guard.py).
    clock_skew_ms: added to this node's clock for block timestamps (a fault for tests and
    teaching: honest validators refuse its proposals, chain.chain_time).
    read_workers: worker processes serving signed reports beside the node's process, sharing
    its port and its LMDB stores read-only (0: the node's process serves everything; ADR 0021).
    """

    node_id: str
    preset: str
    data_dir: Path
    host: str
    port: int
    peers: dict[str, str] = field(default_factory=dict)
    latency: str = "none"
    control: bool = False
    execution: str = NATIVE_ENGINE
    peer_port: int = 0
    peer_channels: dict[str, str] = field(default_factory=dict)
    control_token: str = ""
    clock_skew_ms: int = 0
    read_workers: int = 0

    @property
    def preset_value(self) -> Preset:
        """The preset this node belongs to."""
        return get_preset(self.preset)

    @property
    def url(self) -> str:
        """This node's own base URL."""
        return f"http://{self.host}:{self.port}"


def save_config(config: NodeConfig, path: Path) -> None:
    """Write a node.toml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "node": {
            "id": config.node_id,
            "preset": config.preset,
            "data_dir": str(config.data_dir),
            "host": config.host,
            "port": config.port,
            "latency": config.latency,
            "control": config.control,
            "execution": config.execution,
            "peer_port": config.peer_port,
            "control_token": config.control_token,
            "clock_skew_ms": config.clock_skew_ms,
            "read_workers": config.read_workers,
        },
        "peers": dict(config.peers),
        "peer_channels": dict(config.peer_channels),
    }
    path.write_text(tomli_w.dumps(document), encoding="utf-8")


def channel_address(text: str) -> tuple[str, int]:
    """("host", port) of a "host:port" peer channel address; ValueError if malformed."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65_536:
        raise ValueError(f"a peer channel address is host:port, got {text!r}")
    return host, int(port)


def load_config(path: Path) -> NodeConfig:
    """Read a node.toml; ValueError naming what is missing or wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        node = document["node"]
        config = NodeConfig(
            node_id=str(node["id"]),
            preset=str(node["preset"]),
            data_dir=Path(node["data_dir"]),
            host=str(node.get("host", "127.0.0.1")),
            port=int(node["port"]),
            peers={str(k): str(v) for k, v in document.get("peers", {}).items()},
            latency=str(node.get("latency", "none")),
            control=bool(node.get("control", False)),
            execution=str(node.get("execution", NATIVE_ENGINE)),
            peer_port=int(node.get("peer_port", 0)),
            peer_channels={str(k): str(v)
                           for k, v in document.get("peer_channels", {}).items()},
            control_token=str(node.get("control_token", "")),
            clock_skew_ms=int(node.get("clock_skew_ms", 0)),
            read_workers=int(node.get("read_workers", 0)),
        )
    except (KeyError, TypeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: not a valid node configuration ({error!r})") from error
    if config.latency not in LATENCY_MODES:
        raise ValueError(f"{path}: latency must be one of {LATENCY_MODES}")
    if not 0 <= config.read_workers <= MAX_READ_WORKERS:
        raise ValueError(f"{path}: read_workers must be 0..{MAX_READ_WORKERS}")
    if config.execution not in ENGINES:
        raise ValueError(f"{path}: execution must be one of {ENGINES}")
    config.preset_value.node(config.node_id)
    return config
