"""`yrdchain tx | block | dispute`: read the chain, and the dispute procedure (异议处理) by hand.

    yrdchain tx 0x5f…                       a transaction: pending, or committed with its receipt
    yrdchain block [latest|HEIGHT]          a committed block
    yrdchain dispute open    --as bank:nanjing 0xRECORD --reason "case count out of date"
    yrdchain dispute respond --as bureau:hefei 0xDISPUTE --response "re-checked"
    yrdchain dispute resolve --as regulator 0xDISPUTE --rejected   (or --upheld)
    yrdchain dispute show 0xDISPUTE
"""

from __future__ import annotations

import argparse
from typing import Any

from nodes.cli.session import (
    Session,
    UsageError,
    add_identity_options,
    add_node_option,
    emit,
    key_value_lines,
    open_session,
    outcome,
    run_command,
)


def parse_hash(text: str, what: str) -> bytes:
    """A 32-byte hash from 0x-prefixed hex."""
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        value = bytes.fromhex(digits)
    except ValueError as error:
        raise UsageError(f"{what} must be hex digits") from error
    if len(value) != 32:
        raise UsageError(f"{what} must be 32 bytes (64 hex digits)")
    return value


def _tx(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        digest = parse_hash(arguments.hash, "the transaction hash")
        emit(arguments, session.node.transaction("0x" + digest.hex()), key_value_lines)
        return 0


def _block(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        which = arguments.height
        if which != "latest" and not which.isdigit():
            raise UsageError("the block is `latest` or a height")
        block = dict(session.node.get(f"/v1/blocks/{which}"))

        def human(document: dict[str, Any]) -> list[str]:
            shown = {key: value for key, value in document.items() if key != "transactions"}
            return [*key_value_lines(shown), f"transactions: {len(document['transactions'])}",
                    *(f"  {digest}" for digest in document["transactions"])]

        emit(arguments, block, human)
        return 0


def _dispute_document(session: Session, dispute_id: bytes) -> dict[str, Any]:
    return dict(session.node.get(f"/v1/disputes/0x{dispute_id.hex()}"))


def _dispute(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        wait = not getattr(arguments, "no_wait", False)
        if arguments.step == "show":
            emit(arguments, _dispute_document(session, parse_hash(arguments.id, "the dispute id")),
                 key_value_lines)
            return 0
        institution = session.institution()
        if arguments.step == "open":
            record_id = parse_hash(arguments.id, "the record id")
            transaction, dispute_id = institution.open_dispute(record_id, arguments.reason)
        else:
            dispute_id = parse_hash(arguments.id, "the dispute id")
            if arguments.step == "respond":
                transaction = institution.respond(dispute_id, arguments.response)
            else:
                transaction = institution.resolve(dispute_id, upheld=arguments.upheld)
        document = {"dispute_id": "0x" + dispute_id.hex(),
                    **outcome(session, transaction, wait)}
        if document["status"] == "committed":
            document["dispute"] = _dispute_document(session, dispute_id)
        emit(arguments, document, key_value_lines)
        return 0 if document["status"] != "reverted" else 1


def register(commands: Any) -> None:
    """Add `tx`, `block` and `dispute` to the `yrdchain` parser."""
    tx = commands.add_parser("tx", help="a transaction: pending, or committed with its receipt")
    add_node_option(tx)
    tx.add_argument("hash", help="the transaction hash (0x…)")
    tx.set_defaults(run=lambda arguments: run_command(_tx, arguments))

    block = commands.add_parser("block", help="a committed block")
    add_node_option(block)
    block.add_argument("height", nargs="?", default="latest", help="latest (default) or a height")
    block.set_defaults(run=lambda arguments: run_command(_block, arguments))

    dispute = commands.add_parser("dispute", help="open, answer, decide or show a dispute")
    steps = dispute.add_subparsers(dest="step", required=True)
    opened = steps.add_parser("open", help="contest a record (a bank, for an enterprise)")
    opened.add_argument("id", metavar="RECORD_ID")
    opened.add_argument("--reason", required=True)
    respond = steps.add_parser("respond", help="the record's publisher answers")
    respond.add_argument("id", metavar="DISPUTE_ID")
    respond.add_argument("--response", required=True)
    resolve = steps.add_parser("resolve", help="a regulator decides")
    resolve.add_argument("id", metavar="DISPUTE_ID")
    decision = resolve.add_mutually_exclusive_group(required=True)
    decision.add_argument("--upheld", action="store_true", help="the record is revoked")
    decision.add_argument("--rejected", action="store_true", help="the record stands")
    for parser in (opened, respond, resolve):
        add_identity_options(parser)
        parser.add_argument("--no-wait", action="store_true", help="do not wait for the commit")
    show = steps.add_parser("show", help="a dispute's state")
    show.add_argument("id", metavar="DISPUTE_ID")
    add_node_option(show)
    dispute.set_defaults(run=lambda arguments: run_command(_dispute, arguments))
