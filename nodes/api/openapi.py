"""The node's OpenAPI document: a response schema for every route, the signed-request scheme,
path parameter patterns.

Routes read and write JSON themselves (one `json.dumps`, no response-model pass: ADR 0004), so
FastAPI cannot infer what they answer. This module says it, in one table
(`RESPONSE_SCHEMAS`, keyed by method and path template), and completes the generated document
once: response schemas, `components.securitySchemes` for the three `X-Yrd-*` headers (with the
canonical signed text of `nodes/query/request_signing.py` in their description), `security` on
the signed routes, and a `pattern` for every path parameter. tests/nodes/test_openapi.py checks
the document with openapi-spec-validator, that no success response lacks a schema (so a new
route without an entry here fails), and real answers against their schemas.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chain.enterprise import CREDIT_CODE_ALPHABET
from chain.query.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    canonical_request,
)
from nodes.api.path_params import AUDIT_ENTRY_PATTERN, HEIGHT_PATTERN

HASH = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
NULLABLE_HASH = {"anyOf": [HASH, {"type": "null"}]}
CREDIT_CODE_PATTERN = f"^[{CREDIT_CODE_ALPHABET}]{{18}}$"
PATH_PATTERNS = {
    "transaction_hash": HASH["pattern"],
    "record_id": HASH["pattern"],
    "dispute_id": HASH["pattern"],
    "credit_code": CREDIT_CODE_PATTERN,
    "entry": AUDIT_ENTRY_PATTERN,
    "node_id": "^[a-z0-9-]+$",
    "verb": "^(stop|restart)$",
    "height": HEIGHT_PATTERN,  # canonical decimal: "04", "+4" and " 4" are refused
}
SIGNED_SCHEME_NAMES = ("yrdTimestamp", "yrdNonce", "yrdSignature")


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None,
            description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "required": sorted(required),
                              "properties": {**required, **(optional or {})}}
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NULLABLE_STRING = {"type": ["string", "null"]}
PAYLOAD_STATUSES = ["verified", "tampered", "unavailable", "not_uploaded", "withheld"]

COMPONENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "NodeStatus": _object({
        "node_id": STRING, "city": STRING, "preset": STRING, "chain_id": INTEGER,
        "height": INTEGER, "last_block_hash": HASH, "state_root": HASH, "round": INTEGER,
        "mempool": INTEGER, "connected_peers": _array(STRING),
        "validators": _array(_object({"node_id": STRING, "city": STRING,
                                      "public_key": STRING}))},
        description="The node: chain position, consensus round, peers and validators"),
    "Contracts": _object({"chain_id": INTEGER, "contracts": _array(_object({
        "name": STRING, "address": ADDRESS, "abi": _array({"type": "object"})}))}),
    "Submitted": _object(
        {"transaction_hash": HASH, "from": ADDRESS, "nonce": INTEGER},
        {"payload_hashes": _array(HASH), "dispute_id": HASH},
        "A transaction admitted to the mempool (it commits in a later block)"),
    "TransactionStatus": _object(
        {"transaction_hash": HASH, "status": {"enum": ["pending", "committed"]}},
        {"block_height": INTEGER, "index": INTEGER, "receipt": _object({
            "status": INTEGER, "gas_used": INTEGER, "revert_reason": NULLABLE_STRING,
            "logs": INTEGER})}),
    "BlockSummary": _object({
        "height": INTEGER, "hash": HASH, "parent_hash": HASH, "timestamp_ms": INTEGER,
        "proposer": STRING, "state_root": HASH, "transactions_root": HASH,
        "receipts_root": HASH, "gas_used": INTEGER, "transactions": _array(HASH),
        "certified": {"type": "boolean"}}),
    "Provenance": _object({"origin_city": STRING}, {
        "origin_node": NULLABLE_STRING, "publisher": ADDRESS, "publisher_name": NULLABLE_STRING,
        "block_height": INTEGER, "transaction_hash": HASH}),
    "RecordVersion": _object({
        "record_id": HASH, "enterprise": STRING, "kind": STRING, "version": INTEGER,
        "status": STRING, "payload_hash": HASH, "provenance": _ref("Provenance")},
        {"kind_zh": NULLABLE_STRING, "previous": NULLABLE_HASH, "next": NULLABLE_HASH}),
    "RecordVersions": _object({"record_id": HASH, "versions": _array(_ref("RecordVersion"))}),
    "EnterpriseSummary": _object({
        "credit_code": STRING, "city": STRING, "key": {"anyOf": [ADDRESS, {"type": "null"}]},
        "grant_nonce": INTEGER, "record_versions": INTEGER}),
    "Dispute": _object({
        "dispute_id": HASH, "record_id": HASH, "opener": ADDRESS,
        "status": {"enum": ["open", "responded", "upheld", "rejected", "lapsed"]},
        "reason_hash": HASH, "response_hash": NULLABLE_HASH, "opened_at_block": INTEGER,
        "deadline_block": INTEGER, "height": INTEGER}),
    "Report": _object({
        "enterprise": _object({"credit_code": STRING, "city": STRING}),
        "querier": _object({"address": ADDRESS, "name": STRING, "city": STRING}),
        "node": _object({"node_id": STRING, "city": STRING}),
        "height": INTEGER, "generated_at_ms": INTEGER,
        "grant": _object({"scope": _array(STRING), "expires_at": INTEGER,
                          "granted_at": INTEGER}),
        "records": _array({"allOf": [_ref("RecordVersion"), _object({
            "payload_status": {"enum": PAYLOAD_STATUSES},
            "payload": {"description": "the record's JSON when verified, else null"},
            "payload_detail": NULLABLE_STRING})]}),
        "summary": _object({"records": INTEGER, "withheld_out_of_scope": INTEGER,
                            **{status: INTEGER for status in PAYLOAD_STATUSES}})},
        {"audit_entry": STRING},
        "An enterprise's credit report: every record version in the grant's scope"),
    "AuditEntry": _object({
        "entry_id": STRING, "node_id": STRING, "sequence": INTEGER, "time_ms": INTEGER,
        "enterprise": STRING, "querier": ADDRESS, "querier_name": STRING,
        "querier_city": STRING, "request_hash": HASH, "records": INTEGER},
        {"batch_seq": {"type": ["integer", "null"]}, "anchored": {"type": "boolean"}}),
    "AuditTrail": _object({"credit_code": STRING, "entries": _array(_ref("AuditEntry")),
                           "unreachable_nodes": _array(STRING)}),
    "AuditProof": _object({
        "entry_id": STRING, "entry": {"type": "object"}, "leaf": STRING,
        "batch": _object({"node_id": STRING, "merkle_root": HASH},
                         {"transaction_hash": NULLABLE_HASH}),
        "proof": _object({"index": INTEGER, "leaf_count": INTEGER, "path": _array(_object(
            {"sibling": HASH, "side": {"enum": ["left", "right"]}}))}),
        "anchored_root": NULLABLE_HASH, "verified": {"type": "boolean"}}),
    "Topology": _object({"type": STRING, "preset": STRING, "chain_id": INTEGER,
                         "served_by": STRING, "control": {"type": "boolean"},
                         "cities": _array({"type": "object"})},
                        description="docs/spec/dashboard-events.md, `topology`"),
    "ReplayDocument": _object({"topology": _ref("Topology"),
                               "events": _array({"type": "object"})},
                              description="docs/spec/dashboard-events.md"),
    "DashboardDetail": _object({"node_id": STRING, "events": _array({"type": "object"})},
                               description="this node's recent dashboard events in full "
                               "(docs/spec/dashboard-events.md)"),
    "ControlOutcome": {"type": "object", "description": "What a control action did: the "
                       "nodes it applied to and those unreachable, or the burst started",
                       "properties": {"applied": _array(STRING),
                                      "unreachable": _array(STRING), "node": STRING,
                                      "cut": _array(STRING), "slow": {"type": "object"},
                                      "started": STRING, "count": INTEGER}},
    "JsonRpcResponse": _object(
        {"jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "number", "null"]}},
        {"result": {"description": "the method's result"},
         "error": _object({"code": INTEGER, "message": STRING}, {"data": {}})},
        "A JSON-RPC 2.0 response: `result` or `error`"),
}
EVENT_STREAM = {"type": "string", "description": "Server-sent events (text/event-stream)"}
PROMETHEUS_TEXT = {"type": "string", "description": "Prometheus text format 0.0.4"}

# (method, path) -> (status, media type, schema) of the success answer
RESPONSE_SCHEMAS: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {
    ("get", "/status"): ("200", "application/json", _ref("NodeStatus")),
    ("get", "/v1/contracts"): ("200", "application/json", _ref("Contracts")),
    ("post", "/v1/transactions"): ("202", "application/json", _ref("Submitted")),
    ("get", "/v1/transactions/{transaction_hash}"): ("200", "application/json",
                                                     _ref("TransactionStatus")),
    ("post", "/v1/records"): ("202", "application/json", _ref("Submitted")),
    ("post", "/v1/grants"): ("202", "application/json", _ref("Submitted")),
    ("post", "/v1/grants/revocations"): ("202", "application/json", _ref("Submitted")),
    ("post", "/v1/disputes"): ("202", "application/json", _ref("Submitted")),
    ("post", "/v1/disputes/{dispute_id}/response"): ("202", "application/json",
                                                     _ref("Submitted")),
    ("post", "/v1/disputes/{dispute_id}/resolution"): ("202", "application/json",
                                                       _ref("Submitted")),
    ("get", "/v1/blocks/latest"): ("200", "application/json", _ref("BlockSummary")),
    ("get", "/v1/blocks/{height}"): ("200", "application/json", _ref("BlockSummary")),
    ("get", "/v1/records/{record_id}"): ("200", "application/json", _ref("RecordVersions")),
    ("get", "/v1/enterprises/{credit_code}"): ("200", "application/json",
                                               _ref("EnterpriseSummary")),
    ("get", "/v1/disputes/{dispute_id}"): ("200", "application/json", _ref("Dispute")),
    ("get", "/metrics"): ("200", "text/plain", PROMETHEUS_TEXT),
    ("get", "/v1/enterprises/{credit_code}/report"): ("200", "application/json",
                                                      _ref("Report")),
    ("get", "/v1/enterprises/{credit_code}/queries"): ("200", "application/json",
                                                       _ref("AuditTrail")),
    ("get", "/v1/audit/proof/{entry}"): ("200", "application/json", _ref("AuditProof")),
    ("get", "/v1/dashboard/recent"): ("200", "application/json", _ref("DashboardDetail")),
    ("get", "/v1/dashboard/events"): ("200", "text/event-stream", EVENT_STREAM),
    ("get", "/dashboard/topology"): ("200", "application/json", _ref("Topology")),
    ("get", "/dashboard/recent"): ("200", "application/json", _ref("ReplayDocument")),
    ("get", "/dashboard/events"): ("200", "text/event-stream", EVENT_STREAM),
    ("get", "/dashboard/node-events"): ("200", "text/event-stream", EVENT_STREAM),
    **{("post", f"/dashboard/control/{name}"): ("200", "application/json",
                                                _ref("ControlOutcome"))
       for name in ("links", "nodes/{node_id}/{verb}", "partition", "slow", "heal", "burst")},
}
SIGNED_ROUTES = {
    ("get", "/v1/enterprises/{credit_code}/report"),
    ("get", "/v1/enterprises/{credit_code}/queries"),
    ("get", "/v1/audit/proof/{entry}"),
    ("get", "/v1/dashboard/recent"),
    ("get", "/v1/dashboard/events"),
    ("put", "/v1/records/{record_id}/payload"),
}


def signed_scheme_description() -> str:
    """The signed-request scheme in words, with the canonical text it signs."""
    example = canonical_request(7304, "hangzhou-1", "GET",
                                "/v1/enterprises/91310115000010014X/report", 1734567890123,
                                "5f1c0b9e2d7a4c18")
    return (
        "Signed requests (docs/spec/api.md): EIP-191 personal_sign by the caller's secp256k1 "
        "key over this canonical text (UTF-8, \\n line ends, no trailing newline):\n\n"
        "```\n" + example + "\n```\n\n"
        "`path` is the request target exactly as sent (path and ?query). The three headers "
        f"go together: `{TIMESTAMP_HEADER}` (Unix milliseconds, within 30 s of the node), "
        f"`{NONCE_HEADER}` (8 to 64 of A-Z a-z 0-9 _ -, never reused) and `{SIGNATURE_HEADER}` "
        "(0x + 130 hex digits: r, s, v).")


def security_schemes() -> dict[str, Any]:
    """Three apiKey schemes, one per header, required together on signed routes."""
    description = signed_scheme_description()
    return {name: {"type": "apiKey", "in": "header", "name": header, "description": description}
            for name, header in zip(SIGNED_SCHEME_NAMES,
                                    (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER),
                                    strict=True)}


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    """Add response schemas, security schemes and path patterns to a generated document."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENT_SCHEMAS)
    components["securitySchemes"] = security_schemes()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            known = RESPONSE_SCHEMAS.get((method, path))
            if known is not None:
                status, media, schema = known
                response = operation.setdefault("responses", {}).setdefault(
                    status, {"description": "Success"})
                response["content"] = {media: {"schema": schema}}
                if status != "200":
                    operation["responses"].pop("200", None)
            if (method, path) in SIGNED_ROUTES:
                operation["security"] = [{name: [] for name in SIGNED_SCHEME_NAMES}]
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in PATH_PATTERNS:
                    parameter["schema"] = {"type": "string",
                                           "pattern": PATH_PATTERNS[parameter["name"]]}
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
