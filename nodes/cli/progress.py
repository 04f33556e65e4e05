"""Progress while a network starts: a bar on a terminal, plain lines anywhere else.

On a terminal the bar is redrawn in place (`\r`); when the output is a pipe, a file or a test's
list of lines, each step is one plain line, so logs and CI output stay readable.
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
