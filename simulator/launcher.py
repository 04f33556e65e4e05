"""The `yrdchain` console script: the node commands plus `simulate`.

The command line lives in `nodes/cli/main.py`; `simulate` belongs to a higher layer (the simulator
drives the node core), so the script's entry point sits here and hands the node commands the
extra one, keeping every import pointing down.
"""

from __future__ import annotations

import sys


def _simulate(arguments: list[str]) -> int:
    from simulator.cli import main as simulate

    return simulate(arguments)


def main(argv: list[str] | None = None) -> int:
    """Run `yrdchain`."""
    from nodes.cli.main import main as node_main

    return node_main(argv, extra={
        "simulate": ("run a deterministic simulation scenario (see `simulate --list`)",
                     _simulate),
    })


if __name__ == "__main__":
    sys.exit(main())
