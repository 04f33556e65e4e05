"""One node process: `yrdchain node --config DATA_DIR/<node-id>/node.toml`.

Loads the configuration, writes or reads the network's certificates, opens the LMDB store,
builds the runtime and serves its HTTP application with uvicorn until SIGINT or SIGTERM.

With `read_workers` N > 0 this process is the node's one writer: it listens on its port with
`SO_REUSEPORT` beside N worker processes (`nodes.cli.read_workers`), answers their writer-link
requests (`nodes.api.workers`) and serves its application on a Unix socket too, for the
requests workers forward (ADR 0021).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
import socket
from functools import partial
from pathlib import Path

import uvicorn
import uvloop

from chain.crypto import require_coincurve
from chain.genesis import build_genesis
from nodes.api.app import create_app
from nodes.api.forward import NODE_SOCKET_FILE_NAME
from nodes.api.limits import server_settings
from nodes.api.services import NodeServices
from nodes.api.workers import worker_handlers, workers_metrics
from nodes.cli.logs import configure_node_logging
from nodes.cli.read_workers import ReadWorkers, listening_socket, unix_listening_socket
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.query.payload_rebuild import rebuild_payloads
from nodes.runtime.asyncio_ports import process_node
from nodes.runtime.config import NodeConfig, load_config
from nodes.runtime.node import NodeRuntime
from nodes.runtime.pending import JOURNAL_FILE_NAME, PendingJournal
from nodes.runtime.writer_link import WriterLinkServer, socket_path
from nodes.storage.blocks import LmdbBlockStore
from nodes.storage.records import LmdbRecordStore

LOGGER = logging.getLogger(__name__)
RECORD_STORE_DIRECTORY = "records"  # off-chain payloads, beside the block store's "chain"
STREAM_CLOSE_GRACE_S = 1  # open dashboard streams never end by themselves: cut them on shutdown


async def serve_node(config: NodeConfig, config_path: Path | None = None) -> None:
    """Run a node until it is told to stop."""
    require_coincurve()
    preset = config.preset_value
    network_dir = config.data_dir.parent
    ensure_certificates(preset, network_dir)
    validator_set = load_validator_set(preset, network_dir)
    genesis = build_genesis(preset, config.execution)
    store = LmdbBlockStore(config.data_dir / "chain")
    record_store = LmdbRecordStore(config.data_dir / RECORD_STORE_DIRECTORY)
    node = process_node(config, genesis, store, validator_set, record_store)
    runtime = node.runtime
    runtime.pending_journal = PendingJournal(config.data_dir / JOURNAL_FILE_NAME)
    app = create_app(runtime)
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=STREAM_CLOSE_GRACE_S, **server_settings()))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    workers = _ReadWorkerSide(config, config_path, app.state.services)
    serving = asyncio.create_task(server.serve(sockets=workers.sockets()))
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    await node.start()
    await workers.start()
    settle_heap()
    services = app.state.services
    services.in_background(_restore_payloads(services, runtime))
    LOGGER.info("%s serving on %s at height %d", config.node_id, config.url,
                runtime.ledger.head.height)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await workers.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await node.stop()
    await app.state.services.close()
    runtime.pending_journal.close()
    record_store.close()
    store.close()


GC_THRESHOLDS = (50_000, 20, 50)
"""The collector's generation thresholds in a serving node: a report or a block allocates
thousands of short-lived objects, and the default (700, 10, 10) ran a young-generation pass
every few hundred and a full pass over the whole heap (ledger caches included) every hundred
young ones, each a pause every request in flight waits for. Reference counting frees almost
everything; cycles are rare."""


def settle_heap() -> None:
    """After start-up: collect once, freeze what start-up built (the collector never scans it
    again), and collect less often (`GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _restore_payloads(services: NodeServices, runtime: NodeRuntime) -> None:
    """After catch-up: fetch the payloads this node must hold and lacks (a wiped disk)."""
    await rebuild_payloads(runtime.ledger, runtime.record_store, services.payloads.channels,
                           runtime.preset, runtime.config.node_id)


class _ReadWorkerSide:
    """The writer's share of read workers: the shared sockets, the link, the processes."""

    def __init__(self, config: NodeConfig, config_path: Path | None,
                 services: NodeServices) -> None:
        self.config = config
        self.count = config.read_workers if config_path is not None else 0
        self.link = WriterLinkServer(socket_path(config.data_dir), worker_handlers(services)
                                     ) if self.count else None
        self.workers = ReadWorkers(config_path, self.count) if config_path and self.count \
            else None
        if self.link is not None:
            services.worker_metrics = partial(workers_metrics, self.link)

    def sockets(self) -> list[socket.socket] | None:
        """The node's port shared with its workers, and the Unix socket they forward to."""
        if not self.count:
            return None
        return [listening_socket(self.config.host, self.config.port),
                unix_listening_socket(self.config.data_dir / NODE_SOCKET_FILE_NAME)]

    async def start(self) -> None:
        if self.link is not None and self.workers is not None:
            await self.link.start()
            self.workers.start()

    async def stop(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self.link is not None:
            await self.link.stop()


def run_node(config_path: Path, read_workers: int | None = None) -> int:
    """Entry point of `yrdchain node` (`read_workers` overrides the configuration's)."""
    configure_node_logging()
    config = load_config(config_path)
    if read_workers is not None:
        config = dataclasses.replace(config, read_workers=read_workers)
    uvloop.run(serve_node(config, config_path))  # libuv's loop: sockets, TLS, timers
    return 0
