"""A node's read worker processes: one shared port, started and restarted by the node.

`yrdchain node --read-workers N` (or `read_workers = N` in node.toml) makes the node's process
the one writer and starts N workers (`nodes.cli.read_worker`) that serve signed reports from
the node's LMDB stores, read-only (ADR 0021). Every process listens on the node's one port
with `SO_REUSEPORT`, so the kernel spreads incoming connections over them; `listening_socket`
makes such a socket. `ReadWorkers` starts the workers after the node's own server is up,
restarts one that exits (after `RESTART_DELAY_S`, counting `restarts`), and stops them with the
node. A worker also dies with the node: it asks the kernel for SIGKILL when its parent dies,
and it stops when the writer's link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from nodes.api.limits import HTTP_LIMITS
from nodes.runtime.config import MAX_READ_WORKERS

LOGGER = logging.getLogger(__name__)
RESTART_DELAY_S = 0.5  # between a worker's exit and its replacement: no crash loop at full speed
STOP_GRACE_S = 3.0  # after SIGTERM, a worker that has not exited is killed


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket on (host, port) that other processes of the node share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    def bind(listener: socket.socket) -> None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))

    return _listening(socket.socket(family, socket.SOCK_STREAM), bind)


def unix_listening_socket(path: Path) -> socket.socket:
    """A Unix listening socket at `path` (a stale file of a killed node is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    def bind(listener: socket.socket) -> None:
        listener.bind(str(path))
        path.chmod(0o600)

    return _listening(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), bind)


def _listening(listener: socket.socket, bind: Callable[[socket.socket], None]) -> socket.socket:
    """`listener` bound by `bind`, listening and non-blocking; closed if any step fails."""
    try:
        bind(listener)
        listener.listen(HTTP_LIMITS.backlog)
        listener.setblocking(False)
    except BaseException:
        listener.close()
        raise
    return listener


class ReadWorkers:
    """The node's worker processes, kept running while the node runs."""

    def __init__(self, config_path: Path, count: int) -> None:
        if not 0 <= count <= MAX_READ_WORKERS:
            raise ValueError(f"read workers: {count}, expected 0..{MAX_READ_WORKERS}")
        self.config_path = config_path
        self.count = count
        self.restarts = 0
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self._stopping = False
        self._keepers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every worker (index 1..N) and keep each running."""
        loop = asyncio.get_running_loop()
        self._keepers = [loop.create_task(self._keep(index))
                         for index in range(1, self.count + 1)]

    async def _keep(self, index: int) -> None:
        while not self._stopping:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nodes.cli.read_worker", "--config",
                str(self.config_path), "--index", str(index), "--parent", str(os.getpid()),
                stdin=asyncio.subprocess.DEVNULL)
            self.processes[index] = process
            code = await process.wait()
            if self._stopping:
                return
            self.restarts += 1
            LOGGER.warning("read worker %d (process %d) exited with %s; restarting", index,
                           process.pid, code)
            await asyncio.sleep(RESTART_DELAY_S)

    async def stop(self) -> None:
        """Stop every worker: SIGTERM, then SIGKILL after `STOP_GRACE_S`."""
        self._stopping = True
        running = [p for p in self.processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for keeper in self._keepers:
            keeper.cancel()

