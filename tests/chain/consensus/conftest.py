"""Shared fixtures for the consensus tests: validators, signers and golden-file comparison."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from chain.consensus.signing import Signer
from chain.consensus.validators import ValidatorSet
from tests.chain.consensus.keys import make_validators

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture
def validators4() -> tuple[ValidatorSet, dict[str, bytes]]:
    """Four harness validators and their key seeds."""
    return make_validators(4)


@pytest.fixture
def signers4(validators4: tuple[ValidatorSet, dict[str, bytes]]) -> dict[str, Signer]:
    """A signer per validator of the four-node set."""
    validator_set, seeds = validators4
    return {
        node_id: Signer(node_id, seed, validator_set.chain_id) for node_id, seed in seeds.items()
    }


@pytest.fixture
def golden() -> Callable[[str, list[str]], None]:
    """Compare a transcript with testdata/<name>.txt; UPDATE_GOLDEN=1 rewrites the file."""

    def check(name: str, lines: list[str]) -> None:
        path = TESTDATA / f"{name}.txt"
        text = "\n".join(lines) + "\n"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            TESTDATA.mkdir(exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
        expected = path.read_text()
        if text != expected:
            got_lines = text.splitlines()
            want_lines = expected.splitlines()
            for index, (got, want) in enumerate(zip(got_lines, want_lines, strict=False)):
                if got != want:
                    pytest.fail(
                        f"{name}: transcript differs at line {index + 1}\n"
                        f"expected: {want}\n     got: {got}\n"
                        "(UPDATE_GOLDEN=1 regenerates after a deliberate change)"
                    )
            pytest.fail(
                f"{name}: transcript has {len(got_lines)} lines, expected {len(want_lines)}"
            )

    return check
