"""The artifacts are reproducible: a fresh compile equals what is committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import build
from contracts.bindings import load_artifact


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    """One fresh compile of every contract, shared by the tests of this module."""
    return build.fresh_artifacts()


def test_committed_artifacts_match_a_fresh_compile(fresh: dict[str, str]) -> None:
    assert build.stale_artifacts(fresh) == []


def test_compiling_twice_gives_identical_text(fresh: dict[str, str]) -> None:
    assert build.fresh_artifacts() == fresh


def test_check_exits_non_zero_when_an_artifact_is_stale(
    fresh: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "fresh_artifacts", lambda: fresh)
    assert build.main(["--check"]) == 0
    changed = {**fresh, "Authorization": fresh["Authorization"] + " "}
    monkeypatch.setattr(build, "fresh_artifacts", lambda: changed)
    assert build.main(["--check"]) == 1


def test_check_reports_missing_and_edited_artifacts(fresh: dict[str, str], tmp_path: Path) -> None:
    assert build.stale_artifacts(fresh, tmp_path) == list(build.CONTRACT_NAMES)
    build.write_artifacts(fresh, tmp_path)
    assert build.stale_artifacts(fresh, tmp_path) == []
    edited = build.artifact_path("CreditRegistry", tmp_path)
    edited.write_text(edited.read_text("utf-8").replace('"abi"', '"abi" '), "utf-8")
    assert build.stale_artifacts(fresh, tmp_path) == ["CreditRegistry"]


def test_artifact_documents_carry_the_agreed_keys() -> None:
    for name in build.CONTRACT_NAMES:
        text = build.artifact_path(name).read_text("utf-8")
        document = json.loads(text)
        assert set(document) == {
            "name",
            "abi",
            "bytecode",
            "runtime_bytecode",
            "vyper_version",
            "source_keccak",
        }
        assert document["name"] == name
        assert document["bytecode"].startswith("0x")
        assert document["runtime_bytecode"].startswith("0x")
        assert text.endswith("}\n")
        assert text == json.dumps(document, sort_keys=True, indent=2) + "\n"


def test_load_artifact_decodes_the_hex_and_is_cached() -> None:
    artifact = load_artifact("Consortium")
    assert artifact.name == "Consortium"
    assert artifact.bytecode and artifact.runtime_bytecode
    assert load_artifact("Consortium") is artifact
