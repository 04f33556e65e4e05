"""What machine a figure was measured on, and where benchmark results are written."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

RESULTS_DIRECTORY = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine() -> str:
    """One line: CPU, cores, memory, Python, OS."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "unknown memory"
    return (f"Machine: {cpu_model()}, {os.cpu_count()} cores, {memory}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def results_path(name: str, smoke: bool = False) -> tuple[Path, Path]:
    """(markdown, json) paths for a run of benchmark `name` today (smoke runs apart)."""
    directory = RESULTS_DIRECTORY / ("smoke" if smoke else "")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    return directory / f"{name}-{stamp}.md", directory / f"{name}-{stamp}.json"
