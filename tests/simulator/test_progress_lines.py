"""The simulator's progress: a redrawn bar on a terminal, plain lines in a pipe or a log."""

from __future__ import annotations

import io

from simulator.cli import _progress_printer


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_one_plain_line_per_tenth() -> None:
    stream = io.StringIO()
    show = _progress_printer(stream)
    for step in range(101):
        show(step * 0.3, 30.0)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 11
    assert lines[0].startswith("  0%") and lines[-1].startswith("100%")


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    stream = _Terminal()
    show = _progress_printer(stream)
    show(15.0, 30.0)
    show(30.0, 30.0)
    assert stream.getvalue().count("\r[") == 2 and "\n" not in stream.getvalue()
