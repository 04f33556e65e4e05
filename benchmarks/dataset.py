"""A seeded data set of enterprises, records and grants, loaded through signed transactions.

`python -m benchmarks.dataset --preset local4 --size default --seed 1` builds the data set once
and keeps it as a snapshot of the nodes' data directories; the query benchmark restores a copy
of the snapshot for each run (the LMDB stores reopen as they were). The data set and its loader
are `yrdchain dataset`'s (`nodes.dataset`): `nodes.dataset.plan` says what a data set holds and
signs it as batch transactions, `nodes.dataset.http_load` submits it to a running network's
HTTP API and waits until it is committed. This module names the benchmark sizes, keeps the
snapshots, and writes the Locust run description.

The load rate (records, transactions and blocks per second of wall time) goes into the
snapshot's manifest and into the query benchmark's report.

`--target URL…` loads the data set into a network that is already running (`yrdchain up`,
Compose, Kubernetes; the preset and nodes come from each URL's `/status`) and writes the
Locust run description instead of a snapshot; `--into TEMPLATE` (`http://{node_id}:8600`) is
the same with every node of the preset named by the template.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.machine import describe_machine
from chain.genesis import build_genesis
from chain.presets import Preset, get_preset
from nodes.cluster.network import NetworkProcess, find_free_base_port, write_network
from nodes.cluster.running import attach_network, start_network
from nodes.dataset import http_load
from nodes.dataset.figures import LoadFigures
from nodes.dataset.plan import (
    DatasetPlan,
    DatasetSize,
    PlannedEnterprise,
    enterprise_key_seed,
    plan_enterprises,
    record_of,
)

CACHE_DIRECTORY = Path(os.environ.get("YRD_BENCH_CACHE", Path.home() / ".cache" / "yrdchain"
                                      / "bench-datasets"))
MANIFEST_NAME = "manifest.json"
NETWORK_DIRECTORY_NAME = "network"
PROGRESS_INTERVAL_S = 10.0

__all__ = [
    "CACHE_DIRECTORY",
    "SIZES",
    "DatasetSize",
    "LoadFigures",
    "PlannedEnterprise",
    "Snapshot",
    "ensure_snapshot",
    "enterprise_key_seed",
    "load",
    "load_into",
    "plan_enterprises",
    "record_of",
    "restore_snapshot",
    "run_description",
]

SIZES = {
    "smoke": DatasetSize("smoke", enterprises=32, records=256, granted=32),
    "small": DatasetSize("small", enterprises=500, records=5_000, granted=500),
    "default": DatasetSize("default", enterprises=1_000, records=5_000, granted=1_000),
    "full": DatasetSize("full", enterprises=100_000, records=1_000_000, granted=100_000),
}


async def load(preset: Preset, nodes: dict[str, str], planned: list[PlannedEnterprise],
               seed: int, progress: bool = True) -> LoadFigures:
    """Submit the whole data set to a running network and wait until it is committed."""
    plan = DatasetPlan(preset, build_genesis(preset).contracts, tuple(planned), seed)
    began = time.monotonic()
    last = [began]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            print(f"load: {now - began:6.0f} s, {done}/{total} items committed", flush=True)

    return await http_load.load(plan, nodes, report if progress else None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A built data set: where its data directories are and what it holds."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def network_directory(self) -> Path:
        """The copied data directories of every node (plus certificates)."""
        return self.directory / NETWORK_DIRECTORY_NAME


def snapshot_directory(preset_name: str, size: DatasetSize, seed: int,
                       cache: Path = CACHE_DIRECTORY) -> Path:
    """Where the snapshot of (preset, size, seed) is kept (the counts are in the name).

    The name ends with the first bytes of the genesis block's hash: a snapshot belongs to one
    chain (preset, contracts, execution engine), and a node refuses a data directory of another.
    """
    genesis_hash = build_genesis(get_preset(preset_name)).block.hash.hex()[:12]
    return cache / (f"{preset_name}-{size.name}-{size.enterprises}e-{size.records}r-"
                    f"{size.granted}g-seed{seed}-genesis{genesis_hash}")


def build_snapshot(preset_name: str, size: DatasetSize, seed: int,
                   cache: Path = CACHE_DIRECTORY, progress: bool = True) -> Snapshot:
    """Start a fresh network, load the data set, stop it cleanly, keep its data directories."""
    preset = get_preset(preset_name)
    planned = plan_enterprises(preset, size, seed)
    target = snapshot_directory(preset_name, size, seed, cache)
    with tempfile.TemporaryDirectory(prefix="yrd-dataset-") as temporary:
        network_dir = Path(temporary) / NETWORK_DIRECTORY_NAME
        load_average = os.getloadavg()
        with start_network(preset, network_dir) as network:
            figures = asyncio.run(load(preset, network.urls(), planned, seed, progress))
        shutil.rmtree(network_dir / "logs", ignore_errors=True)
        manifest = {
            "preset": preset_name, "size": asdict(size), "seed": seed,
            "load": asdict(figures), "machine": describe_machine(),
            "load_average_start": [round(value, 2) for value in load_average],
            "load_average_end": [round(value, 2) for value in os.getloadavg()],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shutil.copytree(network_dir, partial / NETWORK_DIRECTORY_NAME)
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return Snapshot(target, manifest)


def ensure_snapshot(preset_name: str, size: DatasetSize, seed: int,
                    cache: Path = CACHE_DIRECTORY, rebuild: bool = False,
                    progress: bool = True) -> Snapshot:
    """The snapshot of (preset, size, seed), built first if it is missing."""
    target = snapshot_directory(preset_name, size, seed, cache)
    manifest_path = target / MANIFEST_NAME
    if rebuild or not manifest_path.exists():
        return build_snapshot(preset_name, size, seed, cache, progress)
    return Snapshot(target, json.loads(manifest_path.read_text("utf-8")))


def restore_snapshot(snapshot: Snapshot, data_dir: Path, latency: str = "none",
                     base_port: int | None = None,
                     read_workers: Mapping[str, int] | None = None) -> list[NetworkProcess]:
    """Copy a snapshot's data directories to `data_dir` and configure them on free ports
    (`read_workers`: node id -> read worker processes of that node)."""
    shutil.copytree(snapshot.network_directory, data_dir, dirs_exist_ok=True)
    preset = get_preset(snapshot.manifest["preset"])
    members = write_network(preset, data_dir,
                            base_port or find_free_base_port(len(preset.nodes)), latency,
                            read_workers=read_workers or 0)
    (data_dir / "logs").mkdir(exist_ok=True)
    return members


def run_description(preset: Preset, nodes: dict[str, str], planned: list[PlannedEnterprise]
                    ) -> dict[str, Any]:
    """What the Locust users read (`YRD_BENCH_RUN`): nodes, grants, registry address."""
    return {
        "preset": preset.name, "chain_id": preset.chain_id,
        "registry": "0x" + build_genesis(preset).contracts.registry.hex(),
        "nodes": [{"node_id": node_id, "city": preset.node(node_id).city.value, "url": url}
                  for node_id, url in nodes.items()],
        "grants": [[p.code.code, p.code.city.value, p.bank] for p in planned if p.bank],
    }


def template_urls(preset_name: str, url_template: str) -> list[str]:
    """Every node's URL of a preset from a template such as `http://{node_id}:8600`."""
    return [url_template.format(node_id=node.node_id) for node in get_preset(preset_name).nodes]


def load_into(size: DatasetSize, seed: int, target: list[str], run_file: Path,
              progress: bool = True) -> LoadFigures:
    """Load the data set into a running network (its nodes' URLs) and describe it."""
    with attach_network(target) as network:
        planned = plan_enterprises(network.preset, size, seed)
        figures = asyncio.run(load(network.preset, network.urls(), planned, seed, progress))
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(run_description(network.preset, network.urls(),
                                                       planned)), "utf-8")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Build (or rebuild) a data set snapshot, or load into a running network."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="local4")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cache", type=Path, default=CACHE_DIRECTORY)
    parser.add_argument("--into", metavar="URL_TEMPLATE",
                        help="load into a running network instead, e.g. "
                             "http://{node_id}:8600 (docker compose); no snapshot")
    parser.add_argument("--target", nargs="+", metavar="URL",
                        help="load into a running network instead (every node's URL, e.g. "
                             "from `yrdchain up`); no snapshot")
    parser.add_argument("--run-file", type=Path, default=Path("run.json"),
                        help="with --target or --into: where to write the Locust run "
                             "description")
    arguments = parser.parse_args(argv)
    target = arguments.target or (template_urls(arguments.preset, arguments.into)
                                  if arguments.into else None)
    if target:
        figures = load_into(SIZES[arguments.size], arguments.seed, target, arguments.run_file)
        print(json.dumps(asdict(figures), indent=2))
        return 0
    snapshot = ensure_snapshot(arguments.preset, SIZES[arguments.size], arguments.seed,
                               arguments.cache, arguments.rebuild)
    print(json.dumps(snapshot.manifest, indent=2))
    print(f"snapshot: {snapshot.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
