"""A cumulative-bucket histogram of seconds, as Prometheus exposes one.

Kept here, below the API, so the runtime can observe commit latency and the API can observe
request latency with the same type; `nodes/api/metrics.py` writes both out.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

REQUEST_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
COMMIT_BUCKETS_S = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


@dataclass
class Histogram:
    """Observations counted per bucket (upper bounds `bounds_s`, then +Inf), with their sum."""

    bounds_s: tuple[float, ...] = REQUEST_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total_s: float = 0.0
    observations: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds_s) + 1)

    def observe(self, seconds: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.bounds_s, seconds)] += 1
        self.total_s += seconds
        self.observations += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) for every bucket, +Inf last."""
        running = 0
        buckets = []
        for bound, count in zip((*self.bounds_s, float("inf")), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets
