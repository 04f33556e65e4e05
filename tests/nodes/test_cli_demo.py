"""`yrdchain demo --ledger-only` keeps the single-process ledger demo reachable."""

from __future__ import annotations

import pytest

from nodes.cli.main import build_parser, main


def test_the_ledger_only_demo_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--ledger-only", "--preset", "local4"]) == 0
    assert "yrdchain ledger demo" in capsys.readouterr().out


def test_the_network_demo_is_the_default() -> None:
    arguments = build_parser().parse_args(["demo"])
    assert (arguments.preset, arguments.ledger_only, arguments.keep_running) == (
        "yrd-2021", False, False)
