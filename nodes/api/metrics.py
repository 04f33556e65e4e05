"""Prometheus text exposition (format 0.0.4) of a node's metrics, without a client library.

`RequestMetrics` counts API requests by route and outcome and keeps a latency histogram per
route; `render` writes gauges, counters and histograms given as `Metric` values.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Histogram:
    """Cumulative-bucket histogram of seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total_s: float = 0.0
    observations: int = 0

    def observe(self, seconds: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.total_s += seconds
        self.observations += 1


@dataclass
class RequestMetrics:
    """API requests by (route, outcome) and latency by route."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: dict[str, Histogram] = field(default_factory=dict)

    def observe(self, route: str, outcome: str, seconds: float) -> None:
        """Count one request and its latency."""
        self.requests[(route, outcome)] += 1
        histogram = self.latencies.get(route)
        if histogram is None:
            histogram = self.latencies[route] = Histogram()
        histogram.observe(seconds)


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: name, type, help text and samples (labels -> value)."""

    name: str
    kind: str  # "gauge" or "counter"
    help: str
    samples: tuple[tuple[Mapping[str, str], float], ...]


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{key}="{str(value).replace(chr(92), "/").replace(chr(34), "")}"'
               for key, value in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(metrics: Iterable[Metric], requests: RequestMetrics,
           base_labels: Mapping[str, str]) -> str:
    """The exposition text of plain metrics plus the request counters and histograms."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            lines.append(f"{metric.name}{_labels({**base_labels, **labels})} {_number(value)}")
    lines.append("# HELP yrd_api_requests_total API requests by route and outcome.")
    lines.append("# TYPE yrd_api_requests_total counter")
    for (route, outcome), count in sorted(requests.requests.items()):
        text = _labels({**base_labels, "route": route, "outcome": outcome})
        lines.append(f"yrd_api_requests_total{text} {count}")
    lines.append("# HELP yrd_api_request_seconds API request latency by route.")
    lines.append("# TYPE yrd_api_request_seconds histogram")
    for route, histogram in sorted(requests.latencies.items()):
        cumulative = 0
        for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), histogram.counts,
                                strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            text = _labels({**base_labels, "route": route, "le": le})
            lines.append(f"yrd_api_request_seconds_bucket{text} {cumulative}")
        text = _labels({**base_labels, "route": route})
        lines.append(f"yrd_api_request_seconds_sum{text} {histogram.total_s!r}")
        lines.append(f"yrd_api_request_seconds_count{text} {histogram.observations}")
    return "\n".join(lines) + "\n"
