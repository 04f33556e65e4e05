"""Stopping on SIGTERM as on Ctrl-C, without losing track of a process being started.

`yrdchain up` and `yrdchain demo` own node processes that run in sessions of their own (so a
Ctrl-C in the terminal reaches only the parent); the parent must stop them whichever signal it
gets. Inside `terminate_as_interrupt()` the first SIGINT or SIGTERM raises KeyboardInterrupt,
and both signals are then ignored until the block is left, so the `finally` that stops the
nodes and removes `supervisor.json` runs to its end.

A signal that arrives inside `uninterrupted()` (around starting one process: between the fork
and the moment the parent holds the child's handle) is held and raised when that section ends,
so no child is started without the parent knowing it, and none is left behind.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    """Whether a stop was asked for while a section may not be interrupted."""

    installed = False
    critical_depth = 0
    held: str | None = None


def _interrupt(signal_number: int, _frame: FrameType | None) -> None:
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    name = signal.Signals(signal_number).name
    if _State.critical_depth:
        _State.held = name
        return
    raise KeyboardInterrupt(name)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt once inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {stop: signal.getsignal(stop) for stop in STOP_SIGNALS}
    for stop in STOP_SIGNALS:
        signal.signal(stop, _interrupt)
    _State.installed, _State.held = True, None
    try:
        yield
    finally:
        _State.installed = False
        for stop, handler in previous.items():
            signal.signal(stop, handler)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold a stop signal until the block ends, then raise it (with `terminate_as_interrupt`)."""
    _State.critical_depth += 1
    try:
        yield
    finally:
        _State.critical_depth -= 1
    if _State.critical_depth == 0 and _State.held is not None:
        held, _State.held = _State.held, None
        raise KeyboardInterrupt(held)
