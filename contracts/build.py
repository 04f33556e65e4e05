"""Compile the Vyper contracts into reproducible JSON artifacts.

`python -m contracts.build` compiles every source in `contracts/src/` with the installed
`vyper` for EVM version shanghai and writes `contracts/artifacts/<Name>.json` (sorted keys,
indent 2, trailing newline), so the same sources and compiler give byte-identical files.
`python -m contracts.build --check` writes nothing and exits 1 when a committed artifact
differs from a fresh compile.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import vyper
from eth_utils.crypto import keccak
from vyper.compiler.settings import OptimizationLevel, Settings

CONTRACT_NAMES = ("Consortium", "CreditRegistry", "Authorization")
EVM_VERSION = "shanghai"
SOURCE_DIRECTORY = Path(__file__).resolve().parent / "src"
ARTIFACT_DIRECTORY = Path(__file__).resolve().parent / "artifacts"


def compile_contract(name: str, source: str) -> dict[str, object]:
    """Compile one contract's source into its artifact document."""
    settings = Settings(evm_version=EVM_VERSION, optimize=OptimizationLevel.GAS)
    output = vyper.compile_code(
        source,
        contract_path=f"{name}.vy",
        output_formats=["abi", "bytecode", "bytecode_runtime"],
        settings=settings,
    )
    return {
        "name": name,
        "abi": output["abi"],
        "bytecode": output["bytecode"],
        "runtime_bytecode": output["bytecode_runtime"],
        "vyper_version": vyper.__version__,
        "source_keccak": "0x" + keccak(source.encode("utf-8")).hex(),
    }


def encode_artifact(document: dict[str, object]) -> str:
    """Serialize an artifact document deterministically."""
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def artifact_path(name: str, directory: Path = ARTIFACT_DIRECTORY) -> Path:
    """Where the artifact of contract `name` lives."""
    return directory / f"{name}.json"


def fresh_artifacts(source_directory: Path = SOURCE_DIRECTORY) -> dict[str, str]:
    """Compile every contract: artifact text by contract name."""
    return {
        name: encode_artifact(
            compile_contract(name, (source_directory / f"{name}.vy").read_text("utf-8"))
        )
        for name in CONTRACT_NAMES
    }


def stale_artifacts(fresh: dict[str, str], directory: Path = ARTIFACT_DIRECTORY) -> list[str]:
    """Names of the contracts whose artifact on disk is missing or differs from `fresh`."""
    return [
        name
        for name, text in fresh.items()
        if not artifact_path(name, directory).is_file()
        or artifact_path(name, directory).read_text("utf-8") != text
    ]


def write_artifacts(fresh: dict[str, str], directory: Path = ARTIFACT_DIRECTORY) -> None:
    """Write every artifact, creating the directory if needed."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in fresh.items():
        artifact_path(name, directory).write_text(text, "utf-8")


def main(arguments: Sequence[str] | None = None) -> int:
    """Build the artifacts, or with --check verify that they are up to date."""
    parser = argparse.ArgumentParser(prog="python -m contracts.build", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if the artifacts differ from a fresh build"
    )
    options = parser.parse_args(arguments)
    fresh = fresh_artifacts()
    if options.check:
        stale = stale_artifacts(fresh)
        for name in stale:
            print(f"stale artifact: {artifact_path(name)}", file=sys.stderr)
        return 1 if stale else 0
    write_artifacts(fresh)
    for name in fresh:
        print(f"wrote {artifact_path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
