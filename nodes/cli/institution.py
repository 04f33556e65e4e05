"""`yrdchain publish | grant | revoke | query | trail | proof`: an institution's work by hand.

Each command signs locally (transactions with `chain.builder` through `nodes.client`, reads
with the signed-request scheme) and talks to one node; see `nodes/cli/session.py` for the
shared options. Transactions wait until committed unless `--no-wait`.

    yrdchain publish --as bureau:shanghai --enterprise enterprise:shanghai:1 --kind tax \
        --period 2024 --field paid_cny=1280000 --field grade=A
    yrdchain grant   --as bank:hangzhou --enterprise enterprise:shanghai:1 --days 30
    yrdchain query   --as bank:hangzhou enterprise:shanghai:1
    yrdchain trail   --as enterprise:shanghai:1 enterprise:shanghai:1
    yrdchain proof   --as enterprise:shanghai:1 shanghai-1.0
    yrdchain revoke  --as bank:hangzhou --enterprise enterprise:shanghai:1
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from chain.errors import YrdError
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind, scope_of
from nodes.cli.session import (
    Session,
    UsageError,
    add_identity_options,
    emit,
    key_value_lines,
    open_session,
    outcome,
    run_command,
)

SECONDS_PER_DAY = 86_400
DEFAULT_GRANT_DAYS = 365


def parse_field(text: str) -> tuple[str, str | int | bool]:
    """`name=value`: integers and true/false become numbers and booleans."""
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise UsageError(f"--field takes name=value, got {text!r}")
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    digits = value[1:] if value.startswith("-") else value
    return name, int(value) if digits.isdigit() else value


def _settle(session: Session, answer: dict[str, Any], wait: bool) -> dict[str, Any]:
    """The answer with the commit outcome (status, height, revert reason) when waiting."""
    return {**answer, **outcome(session, answer["transaction_hash"], wait)}


def _publish(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        try:
            kind = RecordKind.parse(arguments.kind)
        except YrdError as error:
            raise UsageError(str(error)) from error
        fields = dict(parse_field(text) for text in arguments.field)
        record = CreditRecord(session.enterprise_id(arguments.enterprise), kind,
                              arguments.period, fields)
        published = session.institution().publish(record, salt=arguments.salt)
        document = _settle(session, {
            "transaction_hash": published.transaction_hash,
            "record_id": "0x" + published.record_id.hex(),
            "payload_hash": "0x" + published.payload_hash.hex(),
            "enterprise": record.enterprise.code, "kind": kind.name.lower()},
            not arguments.no_wait)
        emit(arguments, document, key_value_lines)
        return 0 if document["status"] != "reverted" else 1


def _scope(kinds: list[str]) -> int:
    if not kinds:
        return ALL_KINDS_SCOPE
    try:
        return scope_of([RecordKind.parse(kind) for kind in kinds])
    except YrdError as error:
        raise UsageError(str(error)) from error


def _grant(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        querier = session.institution()
        enterprise = session.enterprise(arguments.enterprise, arguments.enterprise_key)
        expires_at = int(time.time()) + int(arguments.days * SECONDS_PER_DAY)
        scope = _scope(arguments.kind)
        signature, nonce = enterprise.sign_grant(querier.address, expires_at, scope)
        transaction = querier.submit_grant(enterprise.credit_code, signature, scope,
                                           expires_at, nonce)
        document = _settle(session, {
            "transaction_hash": transaction, "enterprise": enterprise.credit_code.code,
            "querier": "0x" + querier.address.hex(), "scope": scope,
            "expires_at": expires_at, "grant_nonce": nonce}, not arguments.no_wait)
        emit(arguments, document, key_value_lines)
        return 0 if document["status"] != "reverted" else 1


def _revoke(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        submitter = session.institution()
        enterprise = session.enterprise(arguments.enterprise, arguments.enterprise_key)
        querier = session.account(arguments.querier) if arguments.querier else submitter.address
        signature, nonce = enterprise.sign_revocation(querier)
        transaction = submitter.submit_revocation(enterprise.credit_code, querier, signature,
                                                  nonce)
        document = _settle(session, {
            "transaction_hash": transaction, "enterprise": enterprise.credit_code.code,
            "querier": "0x" + querier.hex(), "grant_nonce": nonce}, not arguments.no_wait)
        emit(arguments, document, key_value_lines)
        return 0 if document["status"] != "reverted" else 1


def report_lines(report: dict[str, Any]) -> list[str]:
    """A report, one record a line."""
    enterprise = report.get("enterprise")
    code = enterprise.get("credit_code") if isinstance(enterprise, dict) else enterprise
    lines = [f"enterprise {code}: {len(report.get('records', []))} records"
             f" (audit entry {report.get('audit_entry')})"]
    for item in report.get("records", []):
        provenance = item.get("provenance", {})
        payload = item.get("payload") or {}
        lines.append(f"  {item.get('kind')} v{item.get('version')} from "
                     f"{provenance.get('origin_node')} ({provenance.get('origin_city')}), block "
                     f"{provenance.get('block_height')}, payload {item.get('payload_status')}: "
                     f"{payload.get('fields', '-')}")
    return lines


def _query(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        code = session.enterprise_id(arguments.enterprise).code
        emit(arguments, session.institution().report(code), report_lines)
        return 0


def trail_lines(trail: dict[str, Any]) -> list[str]:
    """An audit trail, one query a line, newest first."""
    entries = trail.get("entries", [])
    lines = [f"{len(entries)} queries"]
    for entry in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["time_ms"] / 1000))
        anchored = f"anchored in batch {entry['batch_seq']}" if entry.get("anchored") else (
            "not anchored yet")
        lines.append(f"  {entry['entry_id']}: {entry.get('querier_name')} "
                     f"({entry.get('querier_city')}) at {when}, {entry.get('records')} records, "
                     f"{anchored}")
    for node in trail.get("unreachable_nodes", []):
        lines.append(f"  (node {node} did not answer)")
    return lines


def _trail(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        code = session.enterprise_id(arguments.enterprise).code
        path = f"/v1/enterprises/{code}/queries?limit={arguments.limit}"
        emit(arguments, dict(session.node.signed_get(session.signer(), path)), trail_lines)
        return 0


def _proof(arguments: argparse.Namespace) -> int:
    with open_session(arguments) as session:
        proof = dict(session.node.signed_get(session.signer(),
                                             f"/v1/audit/proof/{arguments.entry}"))
        proof["checked_against_chain"] = session.node.verify_audit_proof(proof)

        def human(document: dict[str, Any]) -> list[str]:
            batch = document["batch"]
            return [f"entry {document['entry_id']}: {len(document['proof']['path'])} sibling "
                    f"hashes to root {batch['merkle_root']}",
                    f"  batch {batch['batch_seq']} anchored in block {batch['block_height']}",
                    f"  checked against the chain: {document['checked_against_chain']}"]

        emit(arguments, proof, human)
        return 0 if proof["checked_against_chain"] else 1


def register(commands: Any) -> None:
    """Add the institution commands to the `yrdchain` parser."""
    def command(name: str, summary: str, action: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=summary,
                                                              description=summary)
        add_identity_options(parser)
        parser.set_defaults(run=lambda arguments: run_command(action, arguments))
        return parser

    publish = command("publish", "publish a credit record (hash on chain, payload at the node)",
                      _publish)
    publish.add_argument("--enterprise", required=True, help="credit code or enterprise label")
    publish.add_argument("--kind", required=True, help="record kind, e.g. tax, loan, utilities")
    publish.add_argument("--period", required=True, help="what it covers, e.g. 2024 or 2024-Q3")
    publish.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                         help="a field of the record (repeat)")
    publish.add_argument("--salt", type=int, default=0, help="varies the record id")
    publish.add_argument("--no-wait", action="store_true", help="do not wait for the commit")

    grant = command("grant", "submit an enterprise's signed consent for the signer to query it",
                    _grant)
    revoke = command("revoke", "submit an enterprise's signed revocation of a grant", _revoke)
    for parser in (grant, revoke):
        parser.add_argument("--enterprise", required=True,
                            help="credit code or enterprise label")
        parser.add_argument("--enterprise-key",
                            help="the enterprise's key (default: its development key)")
        parser.add_argument("--no-wait", action="store_true",
                            help="do not wait for the commit")
    grant.add_argument("--days", type=float, default=DEFAULT_GRANT_DAYS,
                       help="how long the grant lasts")
    grant.add_argument("--kind", action="append", default=[],
                       help="a record kind the grant covers (repeat; default all)")
    revoke.add_argument("--querier", help="whose grant (address or label; default the signer)")

    query = command("query", "an enterprise's credit report (a signed query; needs its grant)",
                    _query)
    query.add_argument("enterprise", help="credit code or enterprise label")
    trail = command("trail", "who queried an enterprise (as the enterprise or a regulator)",
                    _trail)
    trail.add_argument("enterprise", help="credit code or enterprise label")
    trail.add_argument("--limit", type=int, default=100)
    proof = command("proof", "an audit entry's Merkle proof, checked against the chain",
                    _proof)
    proof.add_argument("entry", help="the entry id, e.g. shanghai-1.0")
