"""`yrdchain up` as an operator runs it: progress, accounts, the supervisor's port, and a stop
on SIGTERM or SIGINT that leaves no node running and no stale `supervisor.json`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from nodes.cli.main import main
from nodes.runtime.config import load_config

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
PORT_RANGE = range(25_000, 26_000)  # ports these tests may listen on
NODE_PORTS = 8  # local4: four HTTP ports from the base, then four peer channel ports
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 40.0


def free_block(count: int, after: int = PORT_RANGE.start) -> int:
    """The first base port in PORT_RANGE with `count` consecutive free loopback ports."""
    for base in range(after, PORT_RANGE.stop - count):
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports in range")


def start_up(data_dir: Path, base: int, supervisor_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nodes.cli.main", "up", "--preset", "local4", "--data-dir",
         str(data_dir), "--base-port", str(base), "--control", "--supervisor-port",
         str(supervisor_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)))


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in: {lines}")


def processes_using(data_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line names `data_dir` (the nodes of one network)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and any(
                    str(data_dir) in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def assert_all_stopped(process: subprocess.Popen[str], nodes: list[psutil.Process],
                       data_dir: Path, base: int, supervisor_port: int) -> str:
    rest, _ = process.communicate(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0, rest
    for node in nodes:
        assert not node.is_running() or node.status() == psutil.STATUS_ZOMBIE, node
    for port in (*range(base, base + 4), supervisor_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=1.0)
    assert not (data_dir / "supervisor.json").exists()
    assert "Traceback" not in rest
    assert processes_using(data_dir) == []
    return rest


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_up_says_where_it_is_and_stops_every_node_on_a_signal(tmp_path: Path,
                                                               stop: signal.Signals) -> None:
    base = free_block(NODE_PORTS)
    supervisor_port = free_block(1, base + NODE_PORTS)
    process = start_up(tmp_path, base, supervisor_port)
    try:
        lines = read_until(process, "stops every node")
        text = "\n".join(lines)
        assert "nodes answering: 0/4" in text
        assert sum("ready after" in line for line in lines) == 4  # plain lines: not a tty
        assert not any("\r" in line for line in lines)
        assert "Accounts" in text and "bureau:shanghai" in text and "0x" in text
        assert f"supervisor at http://127.0.0.1:{supervisor_port}" in text
        token = load_config(tmp_path / "shanghai-1" / "node.toml").control_token
        assert token and f"/dashboard#control={token}" in text
        recorded = json.loads((tmp_path / "supervisor.json").read_text(encoding="utf-8"))
        assert recorded["url"] == f"http://127.0.0.1:{supervisor_port}"
        states = httpx.get(f"{recorded['url']}/nodes", timeout=5.0).json()["nodes"]
        assert set(states.values()) == {"running"} and len(states) == 4
        nodes = psutil.Process(process.pid).children()
        assert len(nodes) == 4
        status = main(["publish", "--node", f"http://127.0.0.1:{base}", "--as",
                       "bureau:shanghai", "--enterprise", "enterprise:shanghai:1", "--kind",
                       "tax", "--period", "2024", "--field", "paid_cny=1"])
        assert status == 0
        process.send_signal(stop)
        rest = assert_all_stopped(process, nodes, tmp_path, base, supervisor_port)
        assert "all nodes stopped" in rest
        log = (tmp_path / "logs" / "shanghai-1.log").read_text(encoding="utf-8")
        assert " INFO commit node=shanghai-1 height=" in log  # structured commit lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_supervisor_port_in_use_is_a_message_and_no_node_is_left(tmp_path: Path) -> None:
    base = free_block(NODE_PORTS)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_block(1, base + NODE_PORTS)))
        taken.listen()
        supervisor_port = taken.getsockname()[1]
        process = start_up(tmp_path, base, supervisor_port)
        try:
            rest, _ = process.communicate(timeout=STOP_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1
    assert f"the supervisor cannot listen on 127.0.0.1:{supervisor_port}" in rest
    assert "Traceback" not in rest
    assert processes_using(tmp_path) == []
    assert not (tmp_path / "supervisor.json").exists()


def test_sigterm_while_starting_leaves_no_node_behind(tmp_path: Path) -> None:
    base = free_block(NODE_PORTS)
    supervisor_port = free_block(1, base + NODE_PORTS)
    process = start_up(tmp_path, base, supervisor_port)
    try:
        read_until(process, "nodes answering: 0/4")
        deadline = time.monotonic() + 30.0
        nodes: list[psutil.Process] = []
        while len(nodes) < 4 and time.monotonic() < deadline:
            nodes = psutil.Process(process.pid).children()
            time.sleep(0.05)
        assert len(nodes) == 4
        process.send_signal(signal.SIGTERM)
        assert_all_stopped(process, nodes, tmp_path, base, supervisor_port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
