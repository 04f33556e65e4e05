"""The supervisor's control server: stop and restart node processes on request.

`yrdchain up --control` (and the end-to-end tests) run one. It listens on a loopback port (any
free one unless `--supervisor-port` names it) and writes its URL to `DATA_DIR/supervisor.json`;
a node started with `control = true` reads that file when the dashboard asks it to stop or
restart a node, and forwards the request here.
Only the supervisor can restart a process, so a node never restarts itself.

Routes (JSON answers): `GET /nodes` (each node's state), `POST /nodes/<id>/stop` (SIGTERM and
wait), `POST /nodes/<id>/start` (start without waiting until it answers).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nodes.cluster.network import NetworkProcess, start_node, stop_node

SUPERVISOR_FILE = "supervisor.json"
LOOPBACK = "127.0.0.1"  # the control server never listens beyond this machine


def supervisor_url(network_dir: Path) -> str | None:
    """The URL of the supervisor of the network in `network_dir`, or None when there is none."""
    try:
        document = json.loads((network_dir / SUPERVISOR_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = document.get("url") if isinstance(document, dict) else None
    return url if isinstance(url, str) else None


class Supervisor:
    """Stops and starts the node processes of one network; thread-safe."""

    def __init__(self, network: list[NetworkProcess], data_dir: Path, log_dir: Path) -> None:
        self.members = {member.config.node_id: member for member in network}
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.stopped_on_request: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The control server's base URL (after `serve`)."""
        assert self._server is not None, "serve() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, port: int = 0) -> str:
        """Start the control server on a loopback port (0: any free one); publish its URL."""
        handler = _handler_for(self)
        try:
            self._server = ThreadingHTTPServer((LOOPBACK, port), handler)
        except OSError as error:
            raise OSError(error.errno, f"the supervisor cannot listen on {LOOPBACK}:{port}: "
                                       f"{error.strerror}") from error
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="supervisor",
                         daemon=True).start()
        (self.data_dir / SUPERVISOR_FILE).write_text(json.dumps({"url": self.url}),
                                                     encoding="utf-8")
        return self.url

    def close(self) -> None:
        """Stop the control server and withdraw its URL."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        (self.data_dir / SUPERVISOR_FILE).unlink(missing_ok=True)

    def states(self) -> dict[str, str]:
        """Each node's process state: running or stopped."""
        with self._lock:
            return {node_id: _state(member) for node_id, member in self.members.items()}

    def stop(self, node_id: str) -> dict[str, Any]:
        """Stop a node (SIGTERM, then SIGKILL after the stop timeout)."""
        member = self.members[node_id]
        with self._lock:
            self.stopped_on_request.add(node_id)
            stop_node(member)
            member.process = None
        return {"node": node_id, "state": "stopped"}

    def start(self, node_id: str) -> dict[str, Any]:
        """Start a node that is not running (a running one is left alone)."""
        member = self.members[node_id]
        with self._lock:
            if _state(member) != "running":
                start_node(member, self.log_dir)
            self.stopped_on_request.discard(node_id)
        return {"node": node_id, "state": "running"}


def _state(member: NetworkProcess) -> str:
    running = member.process is not None and member.process.poll() is None
    return "running" if running else "stopped"


def _handler_for(supervisor: Supervisor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """The control server's request handler."""

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the supervisor prints its own lines."""

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/nodes":
                self._answer(200, {"nodes": supervisor.states()})
            else:
                self._answer(404, {"error": "not_found", "message": "GET /nodes"})

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "nodes" or parts[2] not in ("stop", "start"):
                self._answer(404, {"error": "not_found",
                                   "message": "POST /nodes/<id>/stop or /nodes/<id>/start"})
                return
            node_id, verb = parts[1], parts[2]
            if node_id not in supervisor.members:
                self._answer(404, {"error": "not_found", "message": f"no node {node_id!r}"})
                return
            action = supervisor.stop if verb == "stop" else supervisor.start
            self._answer(200, action(node_id))

    return Handler
