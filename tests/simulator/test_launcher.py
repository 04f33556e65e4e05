"""The `yrdchain` console script (simulator/launcher.py): the node commands and `simulate` behind
one entry point."""

from __future__ import annotations

import json

import pytest

from chain.presets import get_preset
from simulator.cli import EXIT_BAD_SCENARIO
from simulator.launcher import main


def test_simulate_is_a_command_of_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "yrd-2021-baseline" in listed and "shanghai-node-crash" in listed


def test_a_missing_scenario_is_refused_with_the_scenario_status(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "no-such-scenario"]) == EXIT_BAD_SCENARIO
    assert "no scenario file no-such-scenario" in capsys.readouterr().err


def test_the_node_commands_answer_through_the_same_script(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--preset", "local4", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    preset = get_preset("local4")
    assert (described["preset"], described["chain_id"]) == ("local4", preset.chain_id)
    assert [node["node_id"] for node in described["nodes"]] == [n.node_id for n in preset.nodes]
