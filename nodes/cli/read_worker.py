"""One read worker process of a node: `python -m nodes.cli.read_worker --config … --index N`.

Started by its node (`nodes.cli.read_workers.ReadWorkers`), never by hand. It opens the node's
LMDB stores read-only, connects to the node's writer link, listens on the node's port beside
the node (`SO_REUSEPORT`) and serves `nodes.api.read_worker.create_worker_app` with the node's
HTTP limits until SIGTERM, the writer's link closing, or its parent's death (SIGKILL from the
kernel, `PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from functools import partial
from pathlib import Path

import uvicorn
import uvloop

from chain.crypto import require_coincurve
from chain.genesis import build_genesis
from chain.ledger import Ledger
from nodes.api.forward import NODE_SOCKET_FILE_NAME
from nodes.api.limits import server_settings
from nodes.api.read_worker import create_worker_app, worker_metrics_body, worker_services
from nodes.cli.logs import configure_node_logging
from nodes.cli.read_workers import listening_socket
from nodes.cluster.certificates import load_validator_set
from nodes.runtime.asyncio_ports import link_delays_ms
from nodes.runtime.config import NodeConfig, channel_address, load_config
from nodes.runtime.peer_tls import TLS_KEY_FILE_NAME, tls_contexts
from nodes.runtime.read_channels import ReadChannels
from nodes.runtime.writer_link import WriterLink, WriterMethod, socket_path
from nodes.storage.blocks import LmdbBlockStore
from nodes.storage.records import LmdbRecordStore

LOGGER = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); exit at once if
    the parent is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        raise SystemExit(f"read worker: node process {parent} is gone")


async def serve_worker(config: NodeConfig, index: int) -> None:
    """Serve signed reads for the node until told to stop or the node goes away."""
    require_coincurve()
    preset = config.preset_value
    store = LmdbBlockStore(config.data_dir / "chain", read_only=True)
    record_store = LmdbRecordStore(config.data_dir / "records", read_only=True)
    ledger = Ledger(store, build_genesis(preset, config.execution))
    link = WriterLink(socket_path(config.data_dir))
    await link.connect()
    network_dir = config.data_dir.parent
    peers = ReadChannels(
        config.node_id, load_validator_set(preset, network_dir),
        tls_contexts(network_dir, config.data_dir / TLS_KEY_FILE_NAME, config.node_id,
                     reads_only=True),
        {peer: channel_address(address) for peer, address in config.peer_channels.items()},
        link_delays_ms(config, ledger.genesis))
    services = worker_services(config, preset, ledger, record_store, link, peers)
    link.handlers[WriterMethod.METRICS] = partial(worker_metrics_body, services, index)
    app = create_worker_app(services, index, config.data_dir / NODE_SOCKET_FILE_NAME)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off", **server_settings()))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(server.serve(sockets=[listening_socket(config.host,
                                                                         config.port)]))
    waits = {serving, asyncio.create_task(stop.wait()), asyncio.create_task(link.closed.wait())}
    LOGGER.info("%s read worker %d serving on %s", config.node_id, index, config.url)
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await link.close()
    await peers.close()
    record_store.close()
    store.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process."""
    parser = argparse.ArgumentParser(prog="python -m nodes.cli.read_worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    arguments = parser.parse_args(argv)
    die_with_parent(arguments.parent)
    configure_node_logging()
    uvloop.run(serve_worker(load_config(Path(arguments.config)), arguments.index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
