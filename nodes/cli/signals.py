"""Stopping on SIGTERM as on Ctrl-C, and finishing the clean-up without a second interruption.

`yrdchain up` and `yrdchain demo` own node processes that run in sessions of their own (so a
Ctrl-C in the terminal reaches only the parent); the parent must stop them whichever signal it
gets. Inside `terminate_as_interrupt()` the first SIGINT or SIGTERM raises KeyboardInterrupt,
and both signals are then ignored until the block is left, so the `finally` that stops the
nodes and removes `supervisor.json` runs to its end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signal_number: int, _frame: FrameType | None) -> None:
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signal_number).name)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt once inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {stop: signal.getsignal(stop) for stop in STOP_SIGNALS}
    for stop in STOP_SIGNALS:
        signal.signal(stop, _interrupt)
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
