"""Prometheus text exposition (format 0.0.4) of a node's metrics, without a client library.

`RequestMetrics` counts signed reads by route and outcome and keeps a latency histogram for
every HTTP route (`RouteMetrics`, an ASGI middleware, observes each request by its route
template, method and status code); `process_metrics` reads the process's CPU, memory, file
descriptors and start time; `render` writes gauges, counters and histograms given as `Metric`
values. The output passes `promtool check metrics` (tests/nodes/test_metrics.py).
"""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import psutil

from nodes.api.http_io import ASGIApp, Message, Receive, Scope, Send
from nodes.runtime.histogram import Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE_SCOPE_KEY = "yrd.route"  # set by routes answered before routing (the report fast path)
UNMATCHED_ROUTE = "unmatched"  # 404s: never the raw path, so labels stay bounded
PACKAGE_NAME = "yrdchain"


@dataclass
class RequestMetrics:
    """Signed reads by (route, outcome), and latency by (method, route template, status)."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)

    def count(self, route: str, outcome: str) -> None:
        """Count one signed read and its outcome (`ok` or the error code)."""
        self.requests[(route, outcome)] += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Add one request's latency."""
        key = (method, route, str(status))
        histogram = self.latencies.get(key)
        if histogram is None:
            histogram = self.latencies[key] = Histogram()
        histogram.observe(seconds)


class RouteMetrics:
    """ASGI middleware: every HTTP request's latency, by method, route template and status."""

    def __init__(self, app: ASGIApp, requests: RequestMetrics) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get(ROUTE_SCOPE_KEY) or getattr(scope.get("route"), "path",
                                                          UNMATCHED_ROUTE)
            self.requests.observe(scope["method"], str(route), status,
                                  time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: name, type, help text and samples (labels -> value or histogram)."""

    name: str
    kind: str  # "gauge", "counter" or "histogram"
    help: str
    samples: tuple[tuple[Mapping[str, str], Any], ...]


def build_version() -> str:
    """The installed package's version ("unknown" when running from a bare checkout)."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def process_metrics() -> list[Metric]:
    """The standard `process_*` metrics of this process, and `yrd_build_info`."""
    process = psutil.Process()
    with process.oneshot():
        cpu = process.cpu_times()
        memory = process.memory_info()
        started = process.create_time()
        open_fds = process.num_fds()
        soft_limit = process.rlimit(psutil.RLIMIT_NOFILE)[0]

    def one(name: str, kind: str, text: str, value: float) -> Metric:
        return Metric(name, kind, text, (({}, value),))

    return [
        one("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in "
            "seconds.", cpu.user + cpu.system),
        one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            memory.rss),
        one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
            memory.vms),
        one("process_open_fds", "gauge", "Number of open file descriptors.", open_fds),
        one("process_max_fds", "gauge", "Maximum number of open file descriptors.",
            soft_limit),
        one("process_start_time_seconds", "gauge", "Start time of the process since unix "
            "epoch in seconds.", started),
        Metric("yrd_build_info", "gauge", "The running build: version and Python; always 1.",
               (({"version": build_version(), "python": platform.python_version()}, 1),)),
    ]


def request_metrics(requests: RequestMetrics) -> list[Metric]:
    """The signed-read counter and the per-route latency histogram as metric families."""
    return [
        Metric("yrd_api_requests_total", "counter",
               "Signed reads by route and outcome (ok or the error code).",
               tuple(({"route": route, "outcome": outcome}, count)
                     for (route, outcome), count in sorted(requests.requests.items()))),
        Metric("yrd_api_request_seconds", "histogram",
               "HTTP request latency by method, route template and status code.",
               tuple(({"method": method, "route": route, "code": code}, histogram)
                     for (method, route, code), histogram in sorted(
                         requests.latencies.items()))),
    ]


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def render(metrics: Iterable[Metric], base_labels: Mapping[str, str]) -> str:
    """The exposition text of some metric families, each sample with `base_labels` added."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            merged = {**base_labels, **labels}
            if metric.kind != "histogram":
                lines.append(f"{metric.name}{_labels(merged)} {_number(value)}")
                continue
            for bound, cumulative in value.cumulative():
                text = _labels({**merged, "le": _bound(bound)})
                lines.append(f"{metric.name}_bucket{text} {cumulative}")
            lines.append(f"{metric.name}_sum{_labels(merged)} {value.total_s!r}")
            lines.append(f"{metric.name}_count{_labels(merged)} {value.observations}")
    return "\n".join(lines) + "\n"
