"""How a data set went in: rates, counts, and the disk it takes per record on each node."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodes.dataset.plan import DatasetPlan

STORE_FILE_NAME = "data.mdb"  # an LMDB environment's data file


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """How fast the data set went in."""

    seconds: float
    transactions: int
    records: int
    registrations: int
    grants: int
    blocks: int
    records_per_s: float
    items_per_s: float
    transactions_per_s: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process
    executed_ahead: dict[str, int] = field(default_factory=dict)  # blocks executed ahead
    # (`chain.speculation`) and how many of them a proposal reused, over the nodes

    @staticmethod
    def of(seconds: float, transactions: int, plan: DatasetPlan, blocks: int,
           cpu_s: dict[str, float] | None = None,
           executed_ahead: dict[str, int] | None = None) -> LoadFigures:
        """The figures of a finished load of `plan` (`cpu_s`: CPU seconds of each process of
        an import, by name)."""
        seconds = max(seconds, 1e-9)
        items = len(plan.planned) + plan.grants_count + plan.records
        return LoadFigures(round(seconds, 2), transactions, plan.records, len(plan.planned),
                           plan.grants_count, blocks, round(plan.records / seconds, 1),
                           round(items / seconds, 1), round(transactions / seconds, 1),
                           {name: round(cpu, 2) for name, cpu in (cpu_s or {}).items()},
                           dict(executed_ahead or {}))


@dataclass(frozen=True, slots=True)
class NodeDisk:
    """The LMDB files of one node's data directory."""

    node_id: str
    chain_bytes: int  # blocks, receipts, tables, index
    records_bytes: int  # off-chain payloads

    @property
    def total_bytes(self) -> int:
        """Both stores."""
        return self.chain_bytes + self.records_bytes


def _allocated(path: Path) -> int:
    """Bytes a file takes on disk (LMDB files may be sparse), 0 when it is missing."""
    if not path.exists():
        return 0
    return path.stat().st_blocks * 512


def node_disk(node_id: str, data_dir: Path) -> NodeDisk:
    """The allocated size of a node's block store and record store."""
    return NodeDisk(node_id, _allocated(data_dir / "chain" / STORE_FILE_NAME),
                    _allocated(data_dir / "records" / STORE_FILE_NAME))


def disk_summary(disks: list[NodeDisk], records: int) -> dict[str, Any]:
    """Disk per node and per record per node (both stores, and the chain store alone)."""
    per_record = max(records, 1)
    return {
        node.node_id: {
            "chain_bytes": node.chain_bytes, "records_bytes": node.records_bytes,
            "bytes_per_record": round(node.total_bytes / per_record, 1),
            "chain_bytes_per_record": round(node.chain_bytes / per_record, 1),
        }
        for node in disks
    }
