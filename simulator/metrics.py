"""Metrics of one run and their canonical JSON.

Everything is in virtual time, so the same scenario and seed give the same numbers. The JSON is
written with sorted keys and every float rounded to `DECIMALS`, and holds no wall-clock value, so
equal runs give byte-identical files.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

DECIMALS = 3
"""Digits kept after the point in metrics.json."""

COUNT_MAX_SERIES_POINTS = 600
"""Points of a time series (the bucket widens for long runs)."""

COUNT_CDF_POINTS = 101
"""Points of a latency CDF (every percentile)."""


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 when empty)."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """Count, mean and the usual percentiles."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "mean": sum(ordered) / len(ordered),
        "p50": percentile(ordered, 0.50),
        "p90": percentile(ordered, 0.90),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }


def canonical(value: Any) -> Any:
    """Round floats and turn tuples into lists, recursively."""
    if isinstance(value, float):
        return round(value, DECIMALS) + 0.0
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def encode_metrics(metrics: dict[str, Any]) -> bytes:
    """The canonical bytes of metrics.json."""
    return (json.dumps(canonical(metrics), sort_keys=True, indent=1, ensure_ascii=False)
            + "\n").encode("utf-8")


@dataclass(slots=True)
class BlockCommit:
    """The first honest commit of a height."""

    height: int
    time_ms: float
    transactions: int
    round: int
    proposer: str


@dataclass(slots=True)
class MetricsCollector:
    """Observations made during a run."""

    duration_ms: float
    blocks: dict[int, BlockCommit] = field(default_factory=dict)
    transaction_latencies_ms: list[float] = field(default_factory=list)
    transaction_kinds: Counter[str] = field(default_factory=Counter)
    reverted_kinds: Counter[str] = field(default_factory=Counter)
    round_changes: list[tuple[float, str, int, str]] = field(default_factory=list)
    query_latencies_ms: defaultdict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list))
    query_outcomes: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)

    def on_block(self, height: int, time_ms: float, transactions: int, round_number: int,
                 proposer: str) -> None:
        """First honest commit of a height."""
        if height not in self.blocks:
            self.blocks[height] = BlockCommit(height, time_ms, transactions, round_number,
                                              proposer)

    def on_round_change(self, time_ms: float, node_id: str, detail: str) -> None:
        """A node moved to a new round; detail is the state machine's report."""
        reason = detail.split(" ", 1)[0]
        round_number = 0
        for part in detail.split():
            if part.startswith("r="):
                round_number = int(part[2:])
        self.round_changes.append((time_ms, node_id, round_number, reason))

    def bucket_ms(self) -> float:
        """Width of a time-series bucket."""
        return max(1_000.0, math.ceil(self.duration_ms / COUNT_MAX_SERIES_POINTS / 1_000) * 1_000)

    def throughput_series(self) -> list[list[float]]:
        """[bucket start s, committed transactions per s] over the run."""
        width = self.bucket_ms()
        buckets = [0] * math.ceil(self.duration_ms / width)
        for block in self.blocks.values():
            index = int(block.time_ms // width)
            if 0 <= index < len(buckets):
                buckets[index] += block.transactions
        return [[i * width / 1000, count / (width / 1000)] for i, count in enumerate(buckets)]

    def block_intervals_ms(self) -> list[list[float]]:
        """[time s, ms since the previous height's commit] per height."""
        result = []
        previous = None
        for height in sorted(self.blocks):
            block = self.blocks[height]
            if previous is not None:
                result.append([block.time_ms / 1000, block.time_ms - previous])
            previous = block.time_ms
        return result

    def latency_cdf(self) -> list[list[float]]:
        """[latency ms, fraction] at every percentile."""
        ordered = sorted(self.transaction_latencies_ms)
        if not ordered:
            return []
        return [[percentile(ordered, i / (COUNT_CDF_POINTS - 1)) if i else ordered[0],
                 i / (COUNT_CDF_POINTS - 1)] for i in range(COUNT_CDF_POINTS)]

    def to_dict(self) -> dict[str, Any]:
        """Everything for metrics.json."""
        duration_s = self.duration_ms / 1000
        committed = sum(b.transactions for b in self.blocks.values())
        intervals = [i[1] for i in self.block_intervals_ms()]
        pairs = {
            f"{a}->{b}": summary(values)
            for (a, b), values in sorted(self.query_latencies_ms.items())
        }
        all_queries = [v for values in self.query_latencies_ms.values() for v in values]
        return {
            "blocks": {
                "height": max(self.blocks, default=0),
                "interval_ms": summary(intervals),
                "rounds_above_zero": sum(1 for b in self.blocks.values() if b.round > 0),
                "series_interval_ms": self.block_intervals_ms(),
            },
            "transactions": {
                "committed": committed,
                "throughput_per_s": committed / duration_s if duration_s else 0.0,
                "commit_latency_ms": summary(self.transaction_latencies_ms),
                "commit_latency_cdf": self.latency_cdf(),
                "by_kind": dict(sorted(self.transaction_kinds.items())),
                "reverted_by_kind": dict(sorted(self.reverted_kinds.items())),
                "series_per_s": self.throughput_series(),
            },
            "queries": {
                "outcomes": dict(sorted(self.query_outcomes.items())),
                "latency_ms": summary(all_queries),
                "latency_ms_by_city_pair": pairs,
            },
            "round_changes": {
                "count": len(self.round_changes),
                "timeline": [[t / 1000, node, r, reason]
                             for t, node, r, reason in self.round_changes],
            },
            "consensus_reports": dict(sorted(self.reports.items())),
            "counters": dict(sorted(self.counters.items())),
        }
