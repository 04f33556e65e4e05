"""The report's figures, drawn from metrics.json with matplotlib's Agg backend (no display).

Each function takes the metrics dictionary (and the fault lines to mark) and returns PNG bytes.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from chain.cities import City

FIGURE_SIZE_INCHES = (8.0, 3.6)
FIGURE_DPI = 100
FAULT_LINE_COLOUR = "#c0392b"

FaultMark = tuple[float, str]
"""(virtual seconds, short label) of a fault timeline entry."""


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _mark_faults(axes: Any, faults: list[FaultMark]) -> None:
    for at_s, label in faults:
        axes.axvline(at_s, color=FAULT_LINE_COLOUR, linestyle="--", linewidth=0.8)
        axes.annotate(label, (at_s, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                      fontsize=7, color=FAULT_LINE_COLOUR, va="top", ha="right")


def throughput_plot(metrics: dict[str, Any], faults: list[FaultMark]) -> bytes:
    """Committed transactions per second over virtual time."""
    series = metrics["transactions"]["series_per_s"]
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_INCHES)
    axes.step([p[0] for p in series], [p[1] for p in series], where="post", color="#2471a3")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("committed transactions / s")
    axes.set_title("Throughput")
    axes.set_ylim(bottom=0)
    _mark_faults(axes, faults)
    return _png(figure)


def latency_cdf_plot(metrics: dict[str, Any]) -> bytes:
    """Share of transactions committed within x ms of being sent."""
    cdf = metrics["transactions"]["commit_latency_cdf"]
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_INCHES)
    if cdf:
        axes.plot([p[0] for p in cdf], [p[1] for p in cdf], color="#1e8449")
        axes.set_xscale("log")
    axes.set_xlabel("commit latency (ms, from the client's send to the first honest commit)")
    axes.set_ylabel("share of transactions")
    axes.set_title("Commit latency CDF")
    axes.set_ylim(0, 1)
    axes.grid(True, which="both", alpha=0.3)
    return _png(figure)


def query_heatmap_plot(metrics: dict[str, Any]) -> bytes:
    """Median query latency by (bank city, enterprise city)."""
    pairs = metrics["queries"]["latency_ms_by_city_pair"]
    cities = [c.value for c in City]
    used = sorted({c for key in pairs for c in key.split("->")}, key=cities.index)
    figure, axes = plt.subplots(figsize=(6.4, 5.2))
    if used:
        grid = [[float("nan")] * len(used) for _ in used]
        for key, stats in pairs.items():
            bank, enterprise = key.split("->")
            if stats.get("count"):
                grid[used.index(bank)][used.index(enterprise)] = stats["p50"]
        image = axes.imshow(grid, cmap="viridis")
        figure.colorbar(image, ax=axes, label="median latency (ms)")
        for row, line in enumerate(grid):
            for column, value in enumerate(line):
                if value == value:
                    axes.text(column, row, f"{value:.0f}", ha="center", va="center",
                              color="white", fontsize=8)
        axes.set_xticks(range(len(used)), [c.capitalize() for c in used], rotation=45)
        axes.set_yticks(range(len(used)), [c.capitalize() for c in used])
    axes.set_xlabel("enterprise's city")
    axes.set_ylabel("bank's city")
    axes.set_title("Query latency by city pair")
    return _png(figure)


def block_interval_plot(metrics: dict[str, Any], faults: list[FaultMark]) -> bytes:
    """Time between consecutive committed heights."""
    series = metrics["blocks"]["series_interval_ms"]
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_INCHES)
    axes.scatter([p[0] for p in series], [p[1] for p in series], s=3, color="#7d3c98")
    axes.set_yscale("log")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("ms since previous block")
    axes.set_title("Block interval")
    _mark_faults(axes, faults)
    return _png(figure)


def round_change_plot(metrics: dict[str, Any], faults: list[FaultMark]) -> bytes:
    """Which honest node changed round when, and why."""
    timeline = metrics["round_changes"]["timeline"]
    nodes = list(metrics["nodes"])
    colours = {"timeout": "#d35400", "round_skip": "#2e86c1", "proposal": "#28b463"}
    figure, axes = plt.subplots(figsize=(FIGURE_SIZE_INCHES[0], 4.4))
    for reason, colour in colours.items():
        points = [p for p in timeline if p[3] == reason]
        axes.scatter([p[0] for p in points], [nodes.index(p[1]) for p in points], s=10,
                     color=colour, label=reason)
    axes.set_yticks(range(len(nodes)), nodes, fontsize=7)
    axes.set_xlim(0, metrics["run"]["duration_s"])
    axes.set_xlabel("time (s)")
    axes.set_title("Round changes (honest nodes)")
    if timeline:
        axes.legend(fontsize=7, loc="upper right")
    else:
        axes.text(0.5, 0.5, "no round changes: every round's proposer succeeded",
                  transform=axes.transAxes, ha="center", color="#555")
    _mark_faults(axes, faults)
    return _png(figure)


def all_plots(metrics: dict[str, Any], faults: list[FaultMark]) -> dict[str, bytes]:
    """File name -> PNG bytes, in report order."""
    return {
        "throughput.png": throughput_plot(metrics, faults),
        "commit_latency_cdf.png": latency_cdf_plot(metrics),
        "query_latency_heatmap.png": query_heatmap_plot(metrics),
        "block_interval.png": block_interval_plot(metrics, faults),
        "round_changes.png": round_change_plot(metrics, faults),
    }
