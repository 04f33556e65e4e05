"""The `yrdchain` command line without a network: version, pipes, fields, progress lines."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.cli.institution import parse_field
from nodes.cli.main import main, package_version
from nodes.cli.progress import Progress
from nodes.cli.session import UsageError, parse_key

REPOSITORY = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"yrdchain {package_version()}"


def test_keys_into_a_closed_pipe_ends_without_a_traceback() -> None:
    """`yrdchain keys | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    command = (f"{sys.executable} -m nodes.cli.main keys --preset yrd-2021 --json | head -c 1; "
               f"{sys.executable} -m nodes.cli.main keys --preset yrd-2021 | head -n 1")
    completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                               timeout=120, cwd=REPOSITORY,
                               env=dict(os.environ, PYTHONPATH=str(REPOSITORY)))
    assert completed.stdout.startswith("{regulator")
    assert "Traceback" not in completed.stderr and "BrokenPipeError" not in completed.stderr


def test_fields_and_keys_parse_or_say_why() -> None:
    assert parse_field("paid_cny=1280000") == ("paid_cny", 1280000)
    assert parse_field("delta=-5") == ("delta", -5)
    assert parse_field("late=False") == ("late", False)
    assert parse_field("grade=A+") == ("grade", "A+")
    with pytest.raises(UsageError, match="name=value"):
        parse_field("no-equals-sign")
    assert parse_key("0x" + "11" * 32).secret == bytes([0x11]) * 32
    with pytest.raises(UsageError, match="hex digits"):
        parse_key("xyz")
    with pytest.raises(UsageError, match="not a valid secp256k1 key"):
        parse_key("00" * 32)


def test_progress_is_plain_lines_when_not_a_terminal() -> None:
    lines: list[str] = []
    progress = Progress("starting nodes", 2, lines.append, stream=io.StringIO())
    progress.ready("shanghai-1", 1, 2)
    progress.ready("nanjing-1", 2, 2)
    progress.done("2 nodes answer")
    assert lines[0] == "  starting nodes: 0/2"
    assert lines[1].startswith("  starting nodes: 1/2 shanghai-1 ready after ")
    assert lines[2].startswith("  starting nodes: 2/2 nanjing-1 ready after ")
    assert lines[3].startswith("  2 nodes answer after ")
    assert not any("\r" in line for line in lines)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_one_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    said: list[str] = []
    monkeypatch.setattr("builtins.print", lambda text="": said.append(text))
    progress = Progress("nodes answering", 4, print, stream=terminal)
    for count in range(1, 5):
        progress.ready(f"node-{count}", count, 4)
    progress.done("every node answers")
    drawn = terminal.getvalue()
    assert drawn.count("\r") == 4 and "4/4" in drawn and drawn.endswith("\n")
    assert "#" * 28 in drawn
    assert len(said) == 1 and said[0].startswith("  every node answers after")
