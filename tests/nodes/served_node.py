"""A node's whole app served by uvicorn over a loopback socket in a background thread.

The server runs with the node's HTTP limits (`nodes/api/limits.py`), optionally shortened so the
timeouts can be observed in a test; raw sockets then talk to it as any client would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from nodes.api.limits import EdgeLimits, HttpLimits, server_settings


@dataclass(frozen=True, slots=True)
class ServedApp:
    """Where the app answers."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}:{self.port}"

    def connect(self, timeout_s: float = 5.0) -> socket.socket:
        """A new raw connection."""
        return socket.create_connection((self.host, self.port), timeout=timeout_s)

    def exchange(self, request: bytes, timeout_s: float = 5.0) -> bytes:
        """Send raw bytes, read until the server closes or stays quiet for `timeout_s`."""
        with self.connect(timeout_s) as connection:
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
            return read_all(connection)


def read_all(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the socket times out)."""
    chunks = []
    try:
        while True:
            chunk = connection.recv(65_536)
            if not chunk:
                break
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


@contextmanager
def served(app: FastAPI, port: int, limits: HttpLimits) -> Iterator[ServedApp]:
    """Serve `app` on 127.0.0.1:`port` with `limits` until the block ends."""
    bounded = EdgeLimits(app, limits)  # the app's own EdgeLimits keeps the default bounds
    fast_routes = getattr(app, "fast_routes", None)
    if fast_routes is not None:  # the hot routes apply their bounds themselves
        fast_routes.limits = limits
        bounded.fast_routes = fast_routes  # type: ignore[attr-defined]  # the direct path's
    server = uvicorn.Server(uvicorn.Config(bounded, host="127.0.0.1", port=port, log_level="error",
                                           access_log=False, lifespan="off",
                                           **server_settings(limits)))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield ServedApp("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(10)
