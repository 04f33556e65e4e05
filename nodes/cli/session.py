"""Who speaks and to which node: the shared options of the institution commands.

Every institution command takes `--node URL` (default `$YRDCHAIN_NODE`, else the first node of
`yrdchain up`) and an identity: `--key HEX` (any secp256k1 key) or `--as LABEL` (a development
key of the node's preset, e.g. `bank:hangzhou`, `regulator`, `enterprise:shanghai:1`; the
preset is read from the node's `/status`). Enterprises are named by credit code or by label.
Output is human by default and one JSON document with `--json`; a refusal prints
`error: <status> <code>: <message>` on stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from chain.crypto import Address, PrivateKey
from chain.enterprise import EnterpriseId, parse_credit_code
from chain.errors import YrdError
from chain.presets import Preset, get_preset
from nodes.client import ApiError, Enterprise, Institution, NodeClient, RpcCallError

DEFAULT_NODE_URL = "http://127.0.0.1:8600"
NODE_ENVIRONMENT = "YRDCHAIN_NODE"
EXIT_REFUSED = 1
EXIT_USAGE = 2
COMMIT_TIMEOUT_S = 60.0


class UsageError(Exception):
    """The command line names something that does not exist or leaves out what is needed."""


def add_node_option(parser: argparse.ArgumentParser) -> None:
    """`--node URL` and `--json`."""
    parser.add_argument("--node", default=os.environ.get(NODE_ENVIRONMENT, DEFAULT_NODE_URL),
                        help=f"the node to talk to (default ${NODE_ENVIRONMENT} or "
                             f"{DEFAULT_NODE_URL})")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def add_identity_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--node`, `--json` and one of `--key HEX` / `--as LABEL`."""
    add_node_option(parser)
    who = parser.add_mutually_exclusive_group(required=required)
    who.add_argument("--key", help="the signer's secp256k1 private key (hex)")
    who.add_argument("--as", dest="label",
                     help="a development key of the node's preset, e.g. bank:hangzhou")


def parse_key(text: str, field: str = "--key") -> PrivateKey:
    """A private key from 64 hex digits (with or without 0x)."""
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        secret = bytes.fromhex(digits)
    except ValueError as error:
        raise UsageError(f"{field} must be hex digits") from error
    if len(secret) != 32:
        raise UsageError(f"{field} must be 32 bytes (64 hex digits), got {len(secret)}")
    try:
        return PrivateKey.from_secret(secret)
    except (ValueError, YrdError) as error:
        raise UsageError(f"{field} is not a valid secp256k1 key: {error}") from error


@dataclass
class Session:
    """One node, its preset, and the signer the command line named."""

    node: NodeClient
    key: PrivateKey | None
    label: str | None

    @property
    def preset(self) -> Preset:
        """The preset the node runs (from its /status)."""
        return get_preset(str(self.node.status()["preset"]))

    def signer(self) -> PrivateKey:
        """The key given by --key or --as; UsageError if neither was."""
        if self.key is None:
            raise UsageError("give --key HEX or --as LABEL")
        return self.key

    def institution(self) -> Institution:
        """The signer as an institution at this node."""
        return Institution(self.signer(), self.node)

    def enterprise_id(self, name: str) -> EnterpriseId:
        """An enterprise by credit code or by development label."""
        if name.startswith("enterprise:"):
            try:
                return self.preset.enterprise(name).credit_code
            except KeyError as error:
                raise UsageError(str(error.args[0])) from error
        try:
            return parse_credit_code(name)
        except YrdError as error:
            raise UsageError(f"{name!r} is neither a credit code nor an enterprise label: "
                             f"{error}") from error

    def enterprise(self, name: str, key_text: str | None = None) -> Enterprise:
        """An enterprise that signs: its key from --enterprise-key, or its development key."""
        code = self.enterprise_id(name)
        if key_text is not None:
            return Enterprise(parse_key(key_text, "--enterprise-key"), code, self.node)
        label = name if name.startswith("enterprise:") else next(
            (spec.label for spec in self.preset.enterprises if spec.credit_code == code), None)
        if label is None:
            raise UsageError(f"{code.code} has no development key in preset "
                             f"{self.preset.name}: give --enterprise-key HEX")
        return Enterprise(self.preset.key(label), code, self.node)

    def account(self, name: str) -> Address:
        """An account by 0x address or by development label."""
        if name.lower().startswith("0x"):
            try:
                address = bytes.fromhex(name[2:])
            except ValueError as error:
                raise UsageError(f"{name!r} is not a hex address") from error
            if len(address) != 20:
                raise UsageError(f"{name!r} is not a 20-byte address")
            return address
        return self.preset.key(name).address


def _resolve_label(node: NodeClient, label: str) -> PrivateKey:
    preset = get_preset(str(node.status()["preset"]))
    known = {spec.label for spec in preset.institutions} | {
        spec.label for spec in preset.enterprises}
    if label not in known:
        raise UsageError(f"preset {preset.name} has no account {label!r}; "
                         f"`yrdchain keys --preset {preset.name}` lists them")
    return preset.key(label)


@contextmanager
def open_session(arguments: argparse.Namespace) -> Iterator[Session]:
    """The session the parsed arguments describe; the HTTP client is closed afterwards."""
    node = NodeClient(arguments.node)
    try:
        label = getattr(arguments, "label", None)
        key_text = getattr(arguments, "key", None)
        key = parse_key(key_text) if key_text else (
            _resolve_label(node, label) if label else None)
        yield Session(node, key, label)
    finally:
        node.close()


def outcome(session: Session, transaction_hash: str, wait: bool) -> dict[str, Any]:
    """A submitted transaction's hash and, when waiting, its commit: height and status."""
    if not wait:
        return {"transaction_hash": transaction_hash, "status": "pending"}
    found = session.node.wait_committed(transaction_hash, COMMIT_TIMEOUT_S)
    receipt = found.get("receipt", {})
    document: dict[str, Any] = {
        "transaction_hash": transaction_hash,
        "status": "committed" if receipt.get("status") == 1 else "reverted",
        "block_height": found["block_height"]}
    if receipt.get("revert_reason"):
        document["revert_reason"] = receipt["revert_reason"]
    return document


Renderer = Callable[[dict[str, Any]], list[str]]


def emit(arguments: argparse.Namespace, document: dict[str, Any], human: Renderer) -> None:
    """Print the answer: JSON with --json, the human lines otherwise."""
    if getattr(arguments, "json", False):
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for line in human(document):
        print(line)


def key_value_lines(document: dict[str, Any], indent: str = "") -> list[str]:
    """`key: value` lines, nested documents indented, lists one item a line."""
    lines: list[str] = []
    width = max((len(str(key)) for key in document), default=0)
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += key_value_lines(value, indent + "  ")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{indent}{key}: {len(value)}")
            for item in value:
                lines += key_value_lines(item, indent + "  - ")
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"{indent}{str(key) + ':':<{width + 1}} {shown}")
    return lines


def run_command(action: Callable[[argparse.Namespace], int],
                arguments: argparse.Namespace) -> int:
    """Run one institution command, turning refusals and unreachable nodes into messages."""
    try:
        return action(arguments)
    except ApiError as refused:
        field = f" (field {refused.field})" if refused.field else ""
        print(f"error: {refused.status} {refused.error}: {refused.message}{field}",
              file=sys.stderr)
        return EXIT_REFUSED
    except RpcCallError as refused:
        print(f"error: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    except UsageError as wrong:
        print(f"error: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    except httpx.HTTPError as unreachable:
        print(f"error: cannot reach {arguments.node}: {unreachable}", file=sys.stderr)
        return EXIT_REFUSED
    except TimeoutError as late:
        print(f"error: {late}", file=sys.stderr)
        return EXIT_REFUSED
