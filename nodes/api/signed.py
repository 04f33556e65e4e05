"""Signed reads — the report, the audit trail, audit proofs — and the peer routes behind them.

Each signed route verifies the request (`nodes.query.reports.RequestVerifier`: one recovery, window,
nonce), rate-limits the signer, and checks who may read: a querier with a valid grant for the
report; the enterprise's own key or a regulator for the trail; the enterprise, a regulator or
the querier itself for a proof. Payloads and other nodes' audit entries come over the peer
channel, each request carrying the institution's signed request (`nodes.api.peer_reads`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from chain.codec import Member
from chain.crypto import Address, address_text, keccak
from chain.enterprise import parse_credit_code
from chain.errors import Forbidden, NotFound, YrdError
from chain.json_document import decode_json
from chain.query.audit import (
    AuditEntry,
    anchored_root,
    check_proof,
    entry_to_json,
    parse_entry_id,
    proof_from_json,
    proof_to_json,
)
from chain.query.consent import require_role
from chain.query.report import assemble_report, city_name, in_scope, wanted_payloads
from contracts import bindings
from nodes.api.http_io import json_response, request_target
from nodes.api.path_params import AuditEntryParam, CreditCodeParam
from nodes.api.rest import ERROR_RESPONSES, known_enterprise
from nodes.api.services import NodeServices, wall_clock_ms
from nodes.query.payloads import PayloadEmbedder, forwarded_from
from nodes.runtime.channel import PeerMethod, PeerRefused

REPORT_ROUTE = "/v1/enterprises/{credit_code}/report"
EMBED_PAYLOAD = PayloadEmbedder()  # verdicts are about bytes: one cache serves every node
MAX_TRAIL_ENTRIES = 1_000
DEFAULT_TRAIL_ENTRIES = 100
SIGNED_HEADERS = {"parameters": [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"},
     "description": text}
    for name, text in (
        ("x-yrd-timestamp", "Unix milliseconds of the request (within 30 s of the node)"),
        ("x-yrd-nonce", "8 to 64 characters of A-Z a-z 0-9 _ -, never reused"),
        ("x-yrd-signature", "EIP-191 signature of the canonical request, 0x + 130 hex"))]}


@contextmanager
def observed(services: NodeServices, route: str) -> Iterator[None]:
    """Count a request under `route`, with its error code as the outcome (latency: RouteMetrics)."""
    outcome = "ok"
    try:
        yield
    except YrdError as error:
        outcome = error.code
        raise
    except Exception:
        outcome = "internal_error"
        raise
    finally:
        services.requests.count(route, outcome)


def verified_signer(services: NodeServices, request: Request, now_ms: int) -> Address:
    """The request's signer after signature, window, nonce and rate-limit checks."""
    return verified_headers(services, request.method, request_target(request), request.headers,
                            now_ms)


def verified_headers(services: NodeServices, method: str, target: str,
                     headers: Mapping[str, str], now_ms: int) -> Address:
    """The signer of a request given as method, target and headers (see `verified_signer`)."""
    signer = services.verifier.verify(method, target, headers, now_ms)
    services.take_query(signer)
    return signer


def is_regulator(services: NodeServices, account: Address) -> bool:
    """An active member holding the regulator role."""
    member = services.runtime.ledger.members.get(account)
    return member is not None and member.status == 1 and bool(
        member.roles & bindings.ROLE_REGULATOR)


def request_hash(headers: Mapping[str, str]) -> str:
    """keccak-256 of the request's 65 signature bytes: how a querier finds its own entry."""
    signature = headers.get("x-yrd-signature", "")
    text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    return "0x" + keccak(bytes.fromhex(text)).hex()


async def serve_report(services: NodeServices, credit_code: str, target: str,
                       headers: Mapping[str, str]) -> Response:
    """The signed report query, from the request's target and headers (the hot path)."""
    with observed(services, "report"):
        ledger = services.runtime.ledger
        now = wall_clock_ms()
        signer = await services.admit_signed("GET", target, headers, now)
        querier = require_role(ledger.members, signer, bindings.ROLE_QUERIER, "a report")
        enterprise = parse_credit_code(credit_code)
        entries = services.records.of(enterprise.code)
        if not entries:
            known_enterprise(services, enterprise.code)
        grant = services.consent.require_grant(enterprise, signer, now)
        covered, withheld = in_scope(entries, grant.scope)
        payloads = await services.payloads.resolve(wanted_payloads(covered),
                                                   forwarded_from(target, headers))
        document = assemble_report(enterprise, querier, grant, covered, withheld, payloads,
                                   ledger.members, services.node_summary, ledger.head.height,
                                   now, embed=EMBED_PAYLOAD, views=services.record_views)
        document["audit_entry"] = await services.audit_query(
            now, enterprise.code, address_text(signer), querier.name, city_name(querier.city),
            request_hash(headers), len(covered))
        announce_query(services, headers, querier, enterprise.code, enterprise.city.value,
                       document)
        return json_response(document)


def announce_query(services: NodeServices, headers: Mapping[str, str], querier: Member,
                   enterprise: str, enterprise_city: str, report: dict[str, Any]) -> None:
    """The dashboard's `query` event for an answered report (docs/spec/dashboard-events.md);
    shaped when a viewer listens or the replay is read."""
    nonce = headers.get("x-yrd-nonce", "")
    served_by = services.runtime.config.node_id

    def shape() -> list[dict[str, Any]]:
        origins = sorted({item["provenance"]["origin_city"] for item in report["records"]})
        summary = report["summary"]
        return [{
            "type": "query", "key": "query:" + nonce,
            "from_city": city_name(querier.city),
            "to_city": origins[0] if origins else enterprise_city, "origin_cities": origins,
            "enterprise": enterprise, "querier": address_text(querier.address),
            "querier_name": querier.name, "served_by": served_by,
            "outcome": "answered", "records": summary["records"],
            "verified": summary["tampered"] == 0 and summary["unavailable"] == 0
            and summary["not_uploaded"] == 0,
            "tampered": summary["tampered"], "unavailable": summary["unavailable"]}]

    services.runtime.emit_deferred(shape)


def entry_json(entry: AuditEntry, batch_seq: int | None) -> dict[str, Any]:
    """An audit entry with its id and anchoring state."""
    return {"entry_id": entry.entry_id, **entry_to_json(entry), "batch_seq": batch_seq,
            "anchored": batch_seq is not None}


def signed_router(services: NodeServices) -> APIRouter:
    """The signed reads and the peer routes."""
    router = APIRouter(responses=ERROR_RESPONSES)
    runtime = services.runtime
    ledger = runtime.ledger
    node_id = runtime.config.node_id

    @router.get("/v1/enterprises/{credit_code}/report", tags=["queries"],
                openapi_extra=SIGNED_HEADERS)
    async def report(credit_code: CreditCodeParam, request: Request) -> Response:
        """An enterprise's credit report for a querier holding its grant (a signed request).

        Every record version in the grant's scope, with provenance, and its payload when the
        bytes match the hash on chain; a payload that does not is reported as tampered and not
        served. The query becomes an entry of the audit trail.
        """
        return await serve_report(services, credit_code, request_target(request),
                                  request.headers)

    @router.get("/v1/enterprises/{credit_code}/queries", tags=["queries"],
                openapi_extra=SIGNED_HEADERS)
    async def trail(credit_code: CreditCodeParam, request: Request,
                    limit: int = Query(DEFAULT_TRAIL_ENTRIES, ge=1, le=MAX_TRAIL_ENTRIES)
                    ) -> Response:
        """The audit trail (查询留痕) of an enterprise across every node, newest first.

        Signed by the enterprise's registered key or by a regulator.
        """
        with observed(services, "trail"):
            now = wall_clock_ms()
            signer = verified_signer(services, request, now)
            enterprise = known_enterprise(services, credit_code)
            key = services.consent.enterprise_key(enterprise.to_bytes32())
            if signer != key and not is_regulator(services, signer):
                raise Forbidden(f"the trail of {enterprise.code} is readable by its own key or "
                                "a regulator", field="x-yrd-signature")
            found = [entry_json(entry, _batch_seq(services, entry.sequence))
                     for entry in services.audit.entries_of(enterprise.code, limit)]
            unreachable = []
            forwarded = forwarded_from(request_target(request), request.headers)
            peers = list(runtime.transport.links)
            answers = await asyncio.gather(*(
                services.payloads.ask(peer, PeerMethod.AUDIT_TRAIL, forwarded,
                                      (enterprise.code.encode(), str(limit).encode()))
                for peer in peers), return_exceptions=True)
            for peer, raw in zip(peers, answers, strict=True):
                answer = _json_answer(raw) if isinstance(raw, bytes) else None
                if isinstance(answer, dict) and isinstance(answer.get("entries"), list):
                    found.extend(item for item in answer["entries"] if isinstance(item, dict)
                                 and isinstance(item.get("time_ms"), int))
                else:
                    unreachable.append(peer)
            found.sort(key=lambda item: (-item["time_ms"], str(item.get("node_id"))))
            return json_response({"credit_code": enterprise.code, "entries": found[:limit],
                                  "unreachable_nodes": sorted(unreachable)})

    @router.get("/v1/audit/proof/{entry}", tags=["queries"], openapi_extra=SIGNED_HEADERS)
    async def audit_proof(entry: AuditEntryParam, request: Request) -> Response:
        """The Merkle inclusion proof of an audit entry against its root anchored on chain.

        Signed by the entry's enterprise, its querier or a regulator. `verified` says this node
        checked the path against the root the chain holds for that node and batch.
        """
        with observed(services, "audit_proof"):
            now = wall_clock_ms()
            signer = verified_signer(services, request, now)
            entry_node, sequence = parse_entry_id(entry)
            if entry_node == node_id:
                proof = services.audit.proof(sequence)
            else:
                if entry_node not in runtime.transport.links:
                    raise NotFound(f"no node {entry_node!r} in this network", field="entry")
                try:
                    answer = _json_answer(await services.payloads.ask(
                        entry_node, PeerMethod.AUDIT_PROOF,
                        forwarded_from(request_target(request), request.headers),
                        (entry.encode("utf-8"),)))
                except PeerRefused as refusal:
                    if refusal.code == "forbidden":
                        raise Forbidden(refusal.message, field="x-yrd-signature") from refusal
                    answer = None
                if not isinstance(answer, dict):
                    raise NotFound(f"node {entry_node} has no anchored proof of {entry} "
                                   "(or did not answer)", field="entry")
                try:
                    proof = proof_from_json(answer)
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    raise NotFound(f"node {entry_node} answered an unreadable proof",
                                   field="entry") from error
            _may_read_entry(services, signer, proof.entry)
            anchored = anchored_root(ledger, entry_node, proof.batch.batch_seq)
            document = proof_to_json(proof)
            document["anchored_root"] = "0x" + anchored.hex() if anchored else None
            document["verified"] = check_proof(proof, anchored)
            return json_response(document)

    return router


def _json_answer(raw: bytes | None) -> Any:
    """A peer's JSON answer, or None when it refused, did not answer or sent no JSON."""
    if raw is None:
        return None
    try:
        return decode_json(raw, "peer answer")
    except YrdError:
        return None


def _batch_seq(services: NodeServices, sequence: int) -> int | None:
    batch = services.audit.batch_of(sequence)
    return batch.batch_seq if batch is not None else None


def _may_read_entry(services: NodeServices, signer: Address, entry: AuditEntry) -> None:
    if address_text(signer) == entry.querier or is_regulator(services, signer):
        return
    key = services.consent.enterprise_key(parse_credit_code(entry.enterprise).to_bytes32())
    if key is not None and signer == key:
        return
    raise Forbidden(f"audit entry {entry.entry_id} is readable by its enterprise, its querier "
                    "or a regulator", field="x-yrd-signature")
