"""Progress of long tasks: a bar on a terminal, plain lines anywhere else.

`Progress` counts the steps of a network's start; `RateProgress` the items of a long load
(`yrdchain dataset`), with items per second and the time left. On a terminal the bar is redrawn
in place (`\r`); when the output is a pipe, a file or a test's list of lines, the progress is
plain lines, so logs and CI output stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 28

Printer = Callable[[str], None]


class Progress:
    """Counts steps of one task (`ready` per step) and says when it is done."""

    def __init__(self, label: str, total: int, say: Printer = print,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.say = say
        self.stream = stream if stream is not None else sys.stdout
        self.started = time.monotonic()
        self.count = 0
        self.drawn = False
        self.on_terminal = say is print and self.stream.isatty()
        if not self.on_terminal:
            say(f"  {label}: 0/{total}")

    def ready(self, name: str, count: int, total: int) -> None:
        """One more step is done (`name` is the step, e.g. a node id)."""
        self.count, self.total = count, total
        elapsed = time.monotonic() - self.started
        if self.on_terminal:
            filled = BAR_WIDTH * count // max(total, 1)
            self.stream.write(f"\r  {self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{count}/{total} {elapsed:4.0f} s  {name:<16}")
            self.stream.flush()
            self.drawn = True
        else:
            self.say(f"  {self.label}: {count}/{total} {name} ready after {elapsed:.0f} s")

    def done(self, message: str) -> None:
        """Close the bar and say `message` with the elapsed time."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.say(f"  {message} after {time.monotonic() - self.started:.0f} s")


RATE_LINE_INTERVAL_S = 10.0  # off a terminal: one line per this many seconds, not per update


class RateProgress:
    """Items of a long task done so far: a bar with items/s and the time left on a terminal,
    a plain line every `RATE_LINE_INTERVAL_S` anywhere else."""

    def __init__(self, label: str, unit: str, say: Printer = print,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.unit = unit
        self.say = say
        self.stream = stream if stream is not None else sys.stdout
        self.started = time.monotonic()
        self.last_line = self.started
        self.drawn = False
        self.on_terminal = say is print and self.stream.isatty()

    def update(self, done: int, total: int) -> None:
        """`done` of `total` items are finished."""
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else float("inf")
        eta = "--" if left == float("inf") else f"{left:,.0f} s"
        if self.on_terminal:
            filled = BAR_WIDTH * done // max(total, 1)
            self.stream.write(f"\r  {self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{done:,}/{total:,} {self.unit} {rate:,.0f}/s ETA {eta}   ")
            self.stream.flush()
            self.drawn = True
        elif done == total or now - self.last_line >= RATE_LINE_INTERVAL_S:
            self.last_line = now
            self.say(f"  {self.label}: {done:,}/{total:,} {self.unit}, {rate:,.0f}/s, "
                     f"{elapsed:,.0f} s, ETA {eta}")

    def done(self) -> None:
        """Close the bar."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
