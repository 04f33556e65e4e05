"""`yrdchain console`: a Python REPL connected to one node, with the development identities.

Like `hardhat console` or the FISCO BCOS console: the node's preset is read from `/status`, and
the names below are ready to use (all signing happens in this process):

    node                      the NodeClient of --node (status(), get(), rpc(), transaction())
    preset, genesis           the preset the node runs and its genesis (contract addresses)
    institution("bank:hangzhou")        an Institution at this node (publish, submit_grant,
                                        report, trail, open_dispute, respond, resolve, ...)
    enterprise("enterprise:shanghai:1") an Enterprise (sign_grant, sign_revocation, trail)
    accounts                  label -> address of every development account
    CreditRecord, RecordKind, ALL_KINDS_SCOPE, builder, bindings

`--command TEXT` runs TEXT (statements) instead of the interactive loop, e.g. in scripts.
"""

from __future__ import annotations

import argparse
import code
from typing import Any

from chain import builder
from chain.crypto import checksum_address
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from contracts import bindings
from nodes.cli.session import add_node_option, run_command
from nodes.client import Enterprise, Institution, NodeClient

BANNER = """yrdchain console — node {url} ({node_id}, {city}), preset {preset}, chain id {chain_id}
names: node, preset, genesis, institution(label), enterprise(label), accounts,
       CreditRecord, RecordKind, ALL_KINDS_SCOPE, builder, bindings
e.g.   bank = institution("bank:hangzhou"); bank.report("{example}")"""


def console_namespace(node: NodeClient) -> dict[str, Any]:
    """The names the console starts with, bound to `node`."""
    preset = get_preset(str(node.status()["preset"]))

    def institution(label: str) -> Institution:
        """An institution of the preset (by label) at this node."""
        preset.institution(label)
        return Institution(preset.key(label), node)

    def enterprise(label: str) -> Enterprise:
        """A demo enterprise of the preset (by label) at this node."""
        return Enterprise(preset.key(label), preset.enterprise(label).credit_code, node)

    labels = [spec.label for spec in preset.institutions] + [
        spec.label for spec in preset.enterprises]
    return {
        "node": node, "preset": preset, "genesis": build_genesis(preset),
        "institution": institution, "enterprise": enterprise,
        "accounts": {label: checksum_address(preset.key(label).address) for label in labels},
        "CreditRecord": CreditRecord, "RecordKind": RecordKind,
        "ALL_KINDS_SCOPE": ALL_KINDS_SCOPE, "builder": builder, "bindings": bindings,
    }


def _console(arguments: argparse.Namespace) -> int:
    node = NodeClient(arguments.node)
    try:
        namespace = console_namespace(node)
        status = node.status()
        preset = namespace["preset"]
        if arguments.command is not None:
            exec(compile(arguments.command, "<yrdchain console>", "exec"), namespace)
            return 0
        code.interact(banner=BANNER.format(
            url=node.url, node_id=status["node_id"], city=status["city"], preset=preset.name,
            chain_id=preset.chain_id, example=preset.enterprises[0].credit_code.code),
            local=namespace, exitmsg="")
        return 0
    finally:
        node.close()


def register(commands: Any) -> None:
    """Add `console` to the `yrdchain` parser."""
    console = commands.add_parser("console", help="a Python REPL with the client and the "
                                                  "development identities")
    add_node_option(console)
    console.add_argument("--command", "-c", help="run these statements instead of the REPL")
    console.set_defaults(run=lambda arguments: run_command(_console, arguments))
