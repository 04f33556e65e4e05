"""The `yrdchain` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from chain.crypto import require_coincurve
from chain.engine import ENGINES, NATIVE_ENGINE
from chain.presets import PRESETS, get_preset
from nodes.cluster.read_worker_counts import NO_READ_WORKERS, read_workers_argument
from nodes.runtime.config import MAX_READ_WORKERS


def _keys(arguments: argparse.Namespace) -> int:
    from nodes.cluster.keys import describe_keys

    described = describe_keys(get_preset(arguments.preset))
    if arguments.json:
        print(json.dumps(described, indent=2, ensure_ascii=False))
        return 0
    for institution in described["institutions"]:
        print(f"{institution['label']:<28} {institution['address']}  {institution['name']}")
    for enterprise in described["enterprises"]:
        print(f"{enterprise['label']:<28} {enterprise['address']}  {enterprise['credit_code']}")
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    if arguments.ledger_only:
        from nodes.cli.ledger_demo import run_ledger_demo

        run_ledger_demo(arguments.preset)
        return 0
    from nodes.cli.demo import run_network_demo

    run_network_demo(arguments.preset, Path(arguments.data_dir) if arguments.data_dir else None,
                     arguments.base_port, keep_running=arguments.keep_running)
    return 0


PEER_PORT_OFFSET = 100  # `node` without --config: the peer channel listens on --port + 100


def _node(arguments: argparse.Namespace) -> int:
    from nodes.cli.node_process import run_node
    from nodes.runtime.config import NodeConfig, save_config

    if arguments.config:
        return run_node(Path(arguments.config), arguments.read_workers)
    if not (arguments.preset and arguments.node_id):
        raise SystemExit("yrdchain node: give --config FILE, or --preset and --node-id")
    preset = get_preset(arguments.preset)
    preset.node(arguments.node_id)
    data_dir = Path(arguments.data_dir)
    peer_port = arguments.peer_port or arguments.port + PEER_PORT_OFFSET
    channel_template = arguments.peer_channel_template or (
        f"{urlsplit(arguments.peer_url_template).hostname}:{peer_port}")
    config = NodeConfig(
        node_id=arguments.node_id, preset=preset.name, data_dir=data_dir / arguments.node_id,
        host=arguments.host, port=arguments.port,
        peers={node.node_id: arguments.peer_url_template.format(node_id=node.node_id)
               for node in preset.nodes if node.node_id != arguments.node_id},
        latency=arguments.latency, execution=arguments.execution,
        peer_port=peer_port, read_workers=arguments.read_workers or 0,
        peer_channels={node.node_id: channel_template.format(node_id=node.node_id)
                       for node in preset.nodes if node.node_id != arguments.node_id},
    )
    path = data_dir / arguments.node_id / "node.toml"
    save_config(config, path)
    return run_node(path)


def _certs(arguments: argparse.Namespace) -> int:
    from nodes.cluster.certificates import generate_identities

    try:
        written = generate_identities(get_preset(arguments.preset), Path(arguments.data_dir))
    except FileExistsError as error:
        raise SystemExit(f"yrdchain certs: {error}") from error
    for path in written:
        print(path)
    return 0


def _up(arguments: argparse.Namespace) -> int:
    preset = get_preset(arguments.preset)
    try:
        workers = arguments.read_workers.for_preset(preset)
    except ValueError as error:
        raise SystemExit(f"yrdchain up: --read-workers: {error}") from error
    if arguments.no_start:
        from nodes.cluster.network import write_network

        data_dir = Path(arguments.data_dir).resolve()
        write_network(preset, data_dir, arguments.base_port,
                      arguments.latency, control=arguments.control,
                      execution=arguments.execution, read_workers=workers)
        print(f"{arguments.preset} written to {data_dir} (not started): import a data set "
              f"with `yrdchain dataset --into-data {data_dir}`, start it with `yrdchain up` "
              "and the same options")
        return 0
    from nodes.cli.up import run_network

    return run_network(preset, Path(arguments.data_dir).resolve(),
                       arguments.base_port, arguments.latency, arguments.control,
                       arguments.supervisor_port, execution=arguments.execution,
                       read_workers=workers)


def _k8s(arguments: argparse.Namespace) -> int:
    from nodes.cluster.kubernetes import KubernetesOptions, write_manifests

    options = KubernetesOptions(
        namespace=arguments.namespace, image=arguments.image, storage=arguments.storage,
        storage_class=arguments.storage_class, spread=arguments.spread,
        locust_workers=arguments.locust_workers, read_workers=arguments.read_workers)
    try:
        written = write_manifests(get_preset(arguments.preset), Path(arguments.out), options,
                                  Path(arguments.certs) if arguments.certs else None)
    except FileNotFoundError as error:
        raise SystemExit(f"yrdchain k8s: --certs: {error.filename} is missing") from error
    except ValueError as error:
        raise SystemExit(f"yrdchain k8s: {error}") from error
    for path in written:
        print(path)
    print(f"kubectl apply -f {arguments.out}   # see docs/kubernetes.md")
    return 0


ExtraCommand = tuple[str, Callable[[list[str]], int]]


def build_parser(extra: Mapping[str, ExtraCommand] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="yrdchain",
        description="A simulator of the Yangtze River Delta credit information chain.",
    )
    parser.add_argument("--version", action="version", version=f"yrdchain {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="print a preset's development keys")
    keys.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    keys.set_defaults(run=_keys)
    demo = commands.add_parser("demo", help="publish, consent and query on a preset, narrated")
    demo.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    demo.add_argument("--ledger-only", action="store_true",
                      help="the single-process ledger demo (no node processes)")
    demo.add_argument("--data-dir", help="keep the nodes' data here (default: a temporary "
                                         "directory, removed afterwards)")
    demo.add_argument("--base-port", type=int, help="node i listens on base + i "
                                                    "(default: a free block of ports)")
    demo.add_argument("--keep-running", action="store_true",
                      help="leave the nodes up after the demo until Ctrl-C")
    demo.set_defaults(run=_demo)
    node = commands.add_parser("node", help="run one node from its node.toml")
    node.add_argument("--config", help="DATA_DIR/<node-id>/node.toml written by `up`")
    node.add_argument("--preset", choices=sorted(PRESETS),
                      help="without --config: the preset of the network")
    node.add_argument("--node-id", help="without --config: this node's id, e.g. shanghai-1")
    node.add_argument("--data-dir", default="/data", help="without --config: network directory")
    node.add_argument("--host", default="0.0.0.0", help="without --config: listen address")
    node.add_argument("--port", type=int, default=8600, help="without --config: listen port")
    node.add_argument("--peer-url-template", default="http://{node_id}:8600",
                      help="without --config: how to reach a peer, by node id")
    node.add_argument("--peer-port", type=int,
                      help="without --config: the peer channel's port (mutual TLS; default: "
                           f"--port + {PEER_PORT_OFFSET})")
    node.add_argument("--peer-channel-template",
                      help="without --config: a peer's channel host:port, by node id (default: "
                           "the host of --peer-url-template and this node's --peer-port)")
    node.add_argument("--latency", choices=["none", "regional"], default="none")
    node.add_argument("--execution", choices=ENGINES, default=NATIVE_ENGINE,
                      help="without --config: native system contracts, or evm (the reference)")
    node.add_argument("--read-workers", type=int, choices=range(MAX_READ_WORKERS + 1),
                      metavar="N", help="worker processes serving signed reports beside the "
                      "node's process, on its port (default: node.toml's, else 0)")
    node.set_defaults(run=_node)
    certs = commands.add_parser(
        "certs", help="fresh CA, node keys and certificates for a real deployment")
    certs.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    certs.add_argument("--data-dir", default="data",
                       help="the network directory `up` or `node` will use (must be empty)")
    certs.set_defaults(run=_certs)
    up = commands.add_parser("up", help="start a whole network of node processes")
    up.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    up.add_argument("--data-dir", default="data", help="where the nodes keep their chains")
    up.add_argument("--base-port", type=int, default=8600, help="node i listens on base + i")
    up.add_argument("--latency", choices=["none", "regional"], default="none")
    up.add_argument("--execution", choices=ENGINES, default=NATIVE_ENGINE,
                    help="native system contracts over tables, or evm: the Vyper bytecode on "
                         "py-evm for the whole network (the reference engine)")
    up.add_argument("--read-workers", type=read_workers_argument, default=NO_READ_WORKERS,
                    metavar="COUNTS", help="worker processes serving signed reports: N per "
                    "node, node-id=N,… or N,node-id=N,… (0..64 each)")
    up.add_argument("--control", action="store_true",
                    help="let the dashboard stop nodes, partition cities and slow links")
    up.add_argument("--supervisor-port", type=int, default=0,
                    help="with --control: the supervisor's loopback port (default: any free)")
    up.add_argument("--no-start", action="store_true",
                    help="only write the network (node.toml files and certificates) into "
                         "--data-dir, e.g. for `yrdchain dataset --into-data`")
    up.set_defaults(run=_up)
    k8s = commands.add_parser("k8s", help="write Kubernetes manifests for a preset")
    k8s.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    k8s.add_argument("--out", required=True, help="directory for the manifests")
    k8s.add_argument("--certs", help="identities as `yrdchain certs` writes them (ca.pem, "
                                     "certs/<node-id>.pem, <node-id>/node.key); default: a "
                                     "fresh set generated for this deployment")
    k8s.add_argument("--namespace", default="yrdchain")
    k8s.add_argument("--image", default="yrdchain:latest", help="the image built from Dockerfile")
    k8s.add_argument("--storage", default="10Gi", help="each node's volume claim")
    k8s.add_argument("--storage-class", help="the claims' storage class (default: the cluster's)")
    k8s.add_argument("--spread", choices=["preferred", "required"], default="preferred",
                     help="required: one node pod per machine, never two")
    k8s.add_argument("--locust-workers", type=int, default=4)
    k8s.add_argument("--read-workers", type=read_workers_argument, default=NO_READ_WORKERS,
                     metavar="COUNTS", help="read worker processes: N per node, node-id=N,… or "
                     "N,node-id=N,…; each node pod's CPU and memory scale with them")
    k8s.set_defaults(run=_k8s)

    from nodes.cli import compact, console, dataset, explorer, institution

    institution.register(commands)
    dataset.register(commands)
    compact.register(commands)
    explorer.register(commands)
    console.register(commands)
    for name, (summary, run) in (extra or {}).items():
        command = commands.add_parser(name, help=summary, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
        command.set_defaults(run=lambda arguments, run=run: run(list(arguments.rest)))
    return parser


def main(argv: list[str] | None = None, extra: Mapping[str, ExtraCommand] | None = None) -> int:
    """Entry point of the console script; `extra` adds commands of higher layers."""
    require_coincurve()
    words = sys.argv[1:] if argv is None else list(argv)
    if words and extra and words[0] in extra:
        return extra[words[0]][1](words[1:])
    arguments = build_parser(extra).parse_args(words)
    try:
        status = int(arguments.run(arguments))
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`yrdchain keys | head`): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def package_version() -> str:
    """The installed package's version."""
    try:
        return metadata.version("yrdchain")
    except metadata.PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
