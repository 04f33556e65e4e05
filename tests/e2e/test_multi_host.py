"""A network on several hosts: each node in its own Linux network namespace, with its own address.

Four `local4` node processes run in four namespaces joined by veth pairs to a bridge, each with
its own address in 10.200.0.0/24 and a host name (`shanghai-1.yrd.test`, ...) that every
namespace's `/etc/hosts` resolves, as DNS would on real machines. Each node is started the way
docs/kubernetes.md tells an operator to start one per machine: `yrdchain node --preset
--node-id --data-dir --host --port --peer-url-template 'http://{node_id}.yrd.test:PORT'`, the
same port on every host, each with its own data directory (its own disk; each writes the
network's certificates itself). A fifth namespace runs the client. The machine's own namespace
has no such address, so nothing that assumes loopback or one host can work. The nodes must
agree on blocks, and a report read at the Hangzhou host must carry the payload fetched from the
Shanghai host, verified against its on-chain hash. The namespaces are removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.presets import get_preset
from tests.e2e.namespaces import (
    Host,
    NamespacesUnavailable,
    check_available,
    isolated_hosts,
    namespaces_left,
)
from tests.tools import missing_tool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PRESET = get_preset("local4")
NODE_PORT = 26600  # the same port on every host
DOMAIN = ".yrd.test"  # host names resolved by each namespace's /etc/hosts
CLIENT_TIMEOUT_S = 240
STOP_TIMEOUT_S = 15


def _environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _url(node_id: str) -> str:
    return f"http://{node_id}{DOMAIN}:{NODE_PORT}"


def _start_nodes(hosts: list[Host], data_dir: Path) -> list[subprocess.Popen[bytes]]:
    """One node per host, as an operator starts one per machine."""
    processes = []
    for node, host in zip(PRESET.nodes, hosts, strict=False):
        disk = data_dir / host.name
        disk.mkdir()
        log = (data_dir / f"{node.node_id}.log").open("wb")
        processes.append(subprocess.Popen(
            host.command(sys.executable, "-m", "nodes.cli.main", "node", "--preset",
                         PRESET.name, "--node-id", node.node_id, "--data-dir", str(disk),
                         "--host", host.name, "--port", str(NODE_PORT),
                         "--peer-url-template", _url("{node_id}")),
            stdout=log, stderr=subprocess.STDOUT, env=_environment(), cwd=ROOT))
        log.close()
    return processes


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[Host]]:
    """Five hosts: four nodes and a client."""
    try:
        check_available()
    except NamespacesUnavailable as reason:
        missing_tool(f"network namespaces are unavailable here: {reason}")
    names = [f"{node.node_id}{DOMAIN}" for node in PRESET.nodes] + [f"client{DOMAIN}"]
    with isolated_hosts(names) as made:
        yield made
    assert not [name for name in namespaces_left() if name.startswith(made[0].namespace[:9])]


def test_nodes_on_separate_hosts_agree_and_share_a_record(hosts: list[Host],
                                                          tmp_path: Path) -> None:
    own_addresses = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                                   text=True, check=True, timeout=10).stdout
    assert "10.200.0." not in own_addresses  # the addresses exist only inside the namespaces
    node_hosts, client = hosts[:-1], hosts[-1]
    processes = _start_nodes(node_hosts, tmp_path)
    try:
        urls = {node.node_id: _url(node.node_id) for node in PRESET.nodes}
        finished = subprocess.run(
            client.command(sys.executable, str(ROOT / "tests" / "e2e" / "multi_host_client.py"),
                           json.dumps(urls)),
            capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env=_environment(),
            cwd=ROOT, check=False)
        logs = {p.name: p.read_text(errors="replace")[-1500:] for p in tmp_path.glob("*.log")}
        assert finished.returncode == 0, (finished.stderr[-3000:], logs)
        seen: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    finally:
        _stop(processes)
    statuses = seen["statuses"]
    for node_id, status in statuses.items():
        assert status["node_id"] == node_id
        assert sorted(status["connected_peers"]) == sorted(n for n in urls if n != node_id)
    lowest = min(status["height"] for status in statuses.values())
    assert lowest >= 3
    records = seen["report"]["records"]
    assert [record["payload_status"] for record in records] == ["verified"]
    assert "2460000" in json.dumps(records[0]["payload"])
    assert records[0]["provenance"]["origin_node"] == "shanghai-1"  # fetched across hosts
    assert all(process.returncode is not None for process in processes)

