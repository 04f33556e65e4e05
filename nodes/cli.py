"""The `yrdchain` command."""

from __future__ import annotations

import argparse
import json
import sys

from chain.crypto import require_coincurve
from chain.presets import PRESETS, get_preset


def _keys(arguments: argparse.Namespace) -> int:
    from nodes.keys import describe_keys

    described = describe_keys(get_preset(arguments.preset))
    if arguments.json:
        print(json.dumps(described, indent=2, ensure_ascii=False))
        return 0
    for institution in described["institutions"]:
        print(f"{institution['label']:<28} {institution['address']}  {institution['name']}")
    for enterprise in described["enterprises"]:
        print(f"{enterprise['label']:<28} {enterprise['address']}  {enterprise['credit_code']}")
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    from nodes.ledger_demo import run_ledger_demo

    run_ledger_demo(arguments.preset)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="yrdchain",
        description="A simulator of the Yangtze River Delta credit information chain.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="print a preset's development keys")
    keys.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    keys.set_defaults(run=_keys)
    demo = commands.add_parser("demo", help="publish, consent and query on a preset, narrated")
    demo.add_argument("--preset", choices=sorted(PRESETS), default="yrd-2021")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    require_coincurve()
    arguments = build_parser().parse_args(argv)
    try:
        return int(arguments.run(arguments))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
