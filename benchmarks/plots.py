"""Plots of Locust's CSV history: requests per second and latency over time (matplotlib, Agg).

`plot_history(directory, phases)` reads `<phase>_stats_history.csv` (written with
`--csv-full-history`) for each phase and draws, for the aggregated row of every phase, the
requests per second and the p50 and p99 latencies against seconds since the phase started.
One PNG per quantity, the phases as separate lines: `requests-per-second.png` and
`latency.png` in the same directory.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

AGGREGATED = "Aggregated"
FIGURE_SIZE_IN = (9.0, 4.5)


def read_history(path: Path) -> list[tuple[float, float, float, float]]:
    """(seconds since start, requests/s, p50 ms, p99 ms) of the aggregated rows."""
    if not path.exists():
        return []
    points = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") != AGGREGATED:
                continue
            try:
                points.append((float(row["Timestamp"]), float(row["Requests/s"]),
                               float(row["50%"]), float(row["99%"])))
            except (KeyError, ValueError):
                continue
    if not points:
        return []
    start = points[0][0]
    return [(time - start, rate, p50, p99) for time, rate, p50, p99 in points]


def plot_history(directory: Path, phases: list[str]) -> list[Path]:
    """Draw the two plots; returns the PNG paths (none if no phase has history)."""
    histories = {phase: read_history(directory / f"{phase}_stats_history.csv")
                 for phase in phases}
    histories = {phase: points for phase, points in histories.items() if points}
    if not histories:
        return []
    rate_path = directory / "requests-per-second.png"
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_IN)
    for phase, points in histories.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], label=phase)
    axes.set_xlabel("seconds since the phase started")
    axes.set_ylabel("requests per second (all users)")
    axes.set_title("Locust: requests per second by phase")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(rate_path, dpi=100)
    plt.close(figure)

    latency_path = directory / "latency.png"
    figure, axes = plt.subplots(figsize=FIGURE_SIZE_IN)
    for index, (phase, all_points) in enumerate(histories.items()):
        color = f"C{index}"
        points = [p for p in all_points if p[2] > 0 and p[3] > 0]  # none yet: log scale
        axes.plot([p[0] for p in points], [p[2] for p in points], color=color,
                  label=f"{phase} p50")
        axes.plot([p[0] for p in points], [p[3] for p in points], color=color,
                  linestyle="--", label=f"{phase} p99")
    axes.set_xlabel("seconds since the phase started")
    axes.set_ylabel("latency, ms (Locust's running percentiles)")
    axes.set_yscale("log")
    axes.set_title("Locust: p50 (solid) and p99 (dashed) latency by phase")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(latency_path, dpi=100)
    plt.close(figure)
    return [rate_path, latency_path]
