"""`yrdchain dataset`: build a seeded data set and load it into a network, or import it.

    yrdchain dataset --target http://127.0.0.1:8600 http://127.0.0.1:8601 …  [size options]
    yrdchain dataset --into-data DIR [--preset local4] [size options]

The data set (`nodes.dataset.plan`): `--enterprises N` enterprises with valid credit codes
spread over the preset's cities, their keys, `--grants G` grants (default: one per enterprise)
and `--records-per-enterprise K` records each with payloads, signed as batch transactions.

- `--target URL…`: a running network (`yrdchain up`, Compose, Kubernetes) takes it through its
  HTTP API (`nodes.dataset.http_load`).
- `--into-data DIR`: the stopped network in DIR (written by `yrdchain up --no-start`, or here
  with `--preset` when DIR holds none) imports it: the nodes' own runtimes run the real
  consensus offline with their own keys, and every node verifies and executes every block
  (`nodes.dataset.offline_import`). The nodes' stores are then compacted (`yrdchain compact`;
  `--no-compact` leaves them as written). Start the network afterwards with `yrdchain up
  --data-dir DIR --preset P`.

A progress bar shows items per second and the time left; the summary gives records/s,
transactions, blocks, seconds and (for an import) the disk each node takes per record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chain.engine import ENGINES, NATIVE_ENGINE
from chain.genesis import build_genesis
from chain.presets import PRESETS, Preset, get_preset
from nodes.cli.compact import compact_stores
from nodes.cli.progress import RateProgress
from nodes.cluster.network import write_network
from nodes.cluster.running import TargetError, attach_network
from nodes.dataset import http_load
from nodes.dataset.checks import AlreadyLoaded
from nodes.dataset.figures import LoadFigures, disk_summary, node_disk
from nodes.dataset.offline_import import ImportRefused, import_dataset, open_offline_network
from nodes.dataset.plan import DatasetPlan, DatasetSize, make_plan

DEFAULT_BASE_PORT = 8600  # as `yrdchain up`


def _size(arguments: argparse.Namespace) -> DatasetSize:
    grants = arguments.enterprises if arguments.grants is None else arguments.grants
    try:
        return DatasetSize("cli", arguments.enterprises,
                           arguments.enterprises * arguments.records_per_enterprise, grants)
    except ValueError as error:
        raise SystemExit(f"yrdchain dataset: {error}") from error


def _plan(preset: Preset, execution: str, arguments: argparse.Namespace) -> DatasetPlan:
    return make_plan(preset, build_genesis(preset, execution).contracts, _size(arguments),
                     arguments.seed)


def _progress(label: str, arguments: argparse.Namespace) -> RateProgress:
    if arguments.json:  # stdout is the JSON document: progress goes to stderr
        return RateProgress(label, "items", say=lambda line: print(line, file=sys.stderr))
    return RateProgress(label, "items")


def _describe(plan: DatasetPlan, where: str) -> str:
    return (f"dataset: {len(plan.planned):,} enterprises, {plan.grants_count:,} grants, "
            f"{plan.records:,} records (seed {plan.seed}) into {plan.preset.name} at {where}")


def _summary(figures: LoadFigures) -> str:
    return (f"  {figures.records:,} records, {figures.registrations:,} enterprises, "
            f"{figures.grants:,} grants in {figures.transactions:,} transactions and "
            f"{figures.blocks:,} blocks, {figures.seconds:,.1f} s: "
            f"{figures.records_per_s:,.0f} records/s, {figures.items_per_s:,.0f} items/s"
            + ("\n  CPU s: " + ", ".join(f"{name} {cpu:,.1f}"
                                        for name, cpu in figures.cpu_s.items())
               if figures.cpu_s else "")
            + (f"\n  blocks executed ahead: {figures.executed_ahead['executed']:,}, reused "
               f"{figures.executed_ahead['reused']:,} (all nodes)"
               if figures.executed_ahead else ""))


def load_target(arguments: argparse.Namespace) -> dict[str, Any]:
    """Load into the running network given by URLs."""
    try:
        with attach_network(arguments.target, timeout_s=arguments.attach_timeout) as network:
            if arguments.preset and arguments.preset != network.preset.name:
                raise SystemExit(f"yrdchain dataset: the target runs {network.preset.name}, "
                                 f"not {arguments.preset}")
            plan = _plan(network.preset, NATIVE_ENGINE, arguments)
            if not arguments.json:
                print(_describe(plan, " ".join(network.urls().values())))
            progress = _progress("committed", arguments)
            figures = asyncio.run(http_load.load(plan, network.urls(), progress.update,
                                                 refuse_present=True))
            progress.done()
    except (TargetError, AlreadyLoaded) as error:
        raise SystemExit(f"yrdchain dataset: --target: {error}") from error
    return {"mode": "target", "preset": plan.preset.name, "load": asdict(figures)}


def import_into(arguments: argparse.Namespace) -> dict[str, Any]:
    """Import into the stopped network of a data directory (written first if there is none)."""
    data_dir = Path(arguments.into_data).resolve()
    if not any(data_dir.glob("*/node.toml")) and arguments.preset:
        write_network(get_preset(arguments.preset), data_dir,
                      arguments.base_port or DEFAULT_BASE_PORT, "none",
                      execution=arguments.execution)
    try:
        with open_offline_network(data_dir, arguments.preset) as offline:
            execution = next(iter(offline.configs.values())).execution
            plan = _plan(offline.preset, execution, arguments)
            if not arguments.json:
                print(_describe(plan, str(data_dir)))
            progress = _progress("imported", arguments)
            figures = import_dataset(offline, plan, progress.update)
            progress.done()
            data_dirs = {node_id: config.data_dir for node_id, config in offline.configs.items()}
    except (ImportRefused, AlreadyLoaded) as error:
        raise SystemExit(f"yrdchain dataset: --into-data: {error}") from error
    if arguments.compact:
        for path in data_dirs.values():
            compact_stores(Path(path))
    disks = [node_disk(node_id, path) for node_id, path in data_dirs.items()]
    return {"mode": "import", "preset": plan.preset.name, "data_dir": str(data_dir),
            "load": asdict(figures), "disk": disk_summary(disks, plan.records)}


def run_dataset(arguments: argparse.Namespace) -> int:
    """Entry point of `yrdchain dataset`."""
    result = load_target(arguments) if arguments.target else import_into(arguments)
    if arguments.json:
        print(json.dumps(result, indent=2))
        return 0
    print(_summary(LoadFigures(**result["load"])))
    for node_id, disk in result.get("disk", {}).items():
        print(f"  {node_id}: {disk['bytes_per_record']:,.0f} bytes per record on disk "
              f"(chain store {disk['chain_bytes_per_record']:,.0f}, payloads "
              f"{disk['bytes_per_record'] - disk['chain_bytes_per_record']:,.0f})")
    if result["mode"] == "import":
        print(f"  start it: yrdchain up --data-dir {result['data_dir']} --preset "
              f"{result['preset']}")
    return 0


def register(commands: Any) -> None:
    """Add `dataset` to the `yrdchain` parser."""
    dataset = commands.add_parser(
        "dataset", help="load a seeded data set into a running network, or import it into "
                        "a stopped network's data directories",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = dataset.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", nargs="+", metavar="URL",
                       help="every node's URL of a running network (any of its nodes' cities "
                            "must all be present)")
    where.add_argument("--into-data", metavar="DIR",
                       help="a stopped network's data directory (written here with --preset "
                            "when it holds none)")
    dataset.add_argument("--preset", choices=sorted(PRESETS),
                         help="the network's preset (checked against the target or DIR)")
    dataset.add_argument("--enterprises", type=int, default=1_000)
    dataset.add_argument("--records-per-enterprise", type=int, default=5)
    dataset.add_argument("--grants", type=int, help="enterprises that grant a bank consent "
                                                    "(default: every enterprise)")
    dataset.add_argument("--seed", type=int, default=1)
    dataset.add_argument("--base-port", type=int,
                         help="with --into-data on an empty DIR: node i listens on base + i "
                              f"(default {DEFAULT_BASE_PORT})")
    dataset.add_argument("--execution", choices=ENGINES, default=NATIVE_ENGINE,
                         help="with --into-data on an empty DIR: the engine of the network")
    dataset.add_argument("--attach-timeout", type=float, default=60.0,
                         help="with --target: seconds to wait for every node to answer")
    dataset.add_argument("--no-compact", dest="compact", action="store_false",
                         help="with --into-data: leave the stores as the import wrote them "
                              "(by default they are compacted afterwards, `yrdchain compact`)")
    dataset.add_argument("--json", action="store_true", help="the summary as JSON")
    dataset.set_defaults(run=run_dataset)
