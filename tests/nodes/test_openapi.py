"""The OpenAPI document: valid, a schema for every success answer, the signed-request scheme,
path parameter patterns, and real answers that match their documented schemas."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from chain.genesis import Genesis
from chain.presets import Preset
from chain.query.signing import SCHEME_HEADER_LINE
from chain.records import ALL_KINDS_SCOPE, encode_record, payload_hash, record_id_for
from chain.wallet import sign_digest
from contracts import bindings
from nodes.query.request_signing import sign_request
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

HTTP_METHODS = {"get", "post", "put", "delete", "patch"}
SHANGHAI = "enterprise:shanghai:1"


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def document(node: ApiNode) -> dict[str, Any]:
    response = node.client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in HTTP_METHODS]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_success_answer_has_a_schema(document: dict[str, Any]) -> None:
    empty = []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            schemas = [resolved(document, media.get("schema", {}))
                       for media in response.get("content", {}).values()]
            if not schemas or any(not schema or schema in ({"type": "object"},
                                                            {"additionalProperties": True,
                                                             "type": "object"})
                                  for schema in schemas):
                empty.append(f"{method.upper()} {path} {status}")
    assert empty == []
    assert len(operations(document)) >= 30


def test_signed_routes_name_the_scheme_and_its_canonical_text(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {scheme["name"] for scheme in schemes.values()} == {
        "x-yrd-timestamp", "x-yrd-nonce", "x-yrd-signature"}
    for scheme in schemes.values():
        assert scheme["type"] == "apiKey" and scheme["in"] == "header"
        assert SCHEME_HEADER_LINE + "\nchain: 7304\nnode: hangzhou-1\nmethod: GET\npath: " in (
            scheme["description"])
    signed = {(method, path) for method, path, operation in operations(document)
              if operation.get("security")}
    assert signed == {("get", "/v1/enterprises/{credit_code}/report"),
                      ("get", "/v1/enterprises/{credit_code}/queries"),
                      ("get", "/v1/audit/proof/{entry}"),
                      ("get", "/v1/dashboard/recent"),
                      ("get", "/v1/dashboard/events"),
                      ("put", "/v1/records/{record_id}/payload")}
    for method, path in signed:
        [requirement] = document["paths"][path][method]["security"]
        assert set(requirement) == set(schemes)


def test_every_path_parameter_has_a_pattern(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                schema = parameter["schema"]
                assert "pattern" in schema or schema.get("minimum") == 0, (method, path,
                                                                           parameter)


def check(document: dict[str, Any], method: str, path_template: str, response: Any,
          status: int = 200) -> Any:
    assert response.status_code == status, response.text
    schema = document["paths"][path_template][method]["responses"][str(status)]["content"][
        "application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    body = response.json()
    errors = [error.message for error in validator.iter_errors(body)]
    assert errors == [], (path_template, errors[:3])
    return body


def test_real_answers_match_their_schemas(node: ApiNode, document: dict[str, Any]) -> None:
    client = node.client
    check(document, "get", "/status", client.get("/status"))
    check(document, "get", "/v1/contracts", client.get("/v1/contracts"))
    record = tax_record(node.preset, SHANGHAI)
    submitted = check(document, "post", "/v1/records",
                      client.post("/v1/records", json=node.publish_body("bureau:shanghai",
                                                                        record)), 202)
    check(document, "get", "/v1/transactions/{transaction_hash}",
          client.get(f"/v1/transactions/{submitted['transaction_hash']}"))
    node.commit()
    check(document, "get", "/v1/transactions/{transaction_hash}",
          client.get(f"/v1/transactions/{submitted['transaction_hash']}"))
    enterprise = node.preset.enterprise(SHANGHAI)
    code = enterprise.credit_code.to_bytes32()
    bank = node.preset.key("bank:hangzhou").address
    expires_at = int(time.time()) + 3600
    signature = sign_digest(node.preset.key(enterprise.label), bindings.grant_digest(
        node.preset.chain_id, node.genesis.contracts.authorization, code, bank,
        ALL_KINDS_SCOPE, expires_at, 0))
    granted = node.sign("bank:hangzhou", node.genesis.contracts.authorization,
                        bindings.encode_grant(code, ALL_KINDS_SCOPE, expires_at, 0,
                                              signature.v, signature.r, signature.s))
    check(document, "post", "/v1/grants",
          client.post("/v1/grants", json={"raw": "0x" + granted.hex()}), 202)
    node.commit()
    check(document, "get", "/v1/blocks/latest", client.get("/v1/blocks/latest"))
    check(document, "get", "/v1/blocks/{height}", client.get("/v1/blocks/1"))
    digest = payload_hash(encode_record(record))
    record_id = "0x" + record_id_for(node.preset.key("bureau:shanghai").address, digest).hex()
    check(document, "get", "/v1/records/{record_id}", client.get(f"/v1/records/{record_id}"))
    credit_code = enterprise.credit_code.code
    check(document, "get", "/v1/enterprises/{credit_code}",
          client.get(f"/v1/enterprises/{credit_code}"))
    report = f"/v1/enterprises/{credit_code}/report"
    body = check(document, "get", "/v1/enterprises/{credit_code}/report",
                 client.get(report, headers=node.signed_headers("bank:hangzhou", report)))
    assert body["records"][0]["payload_status"] == "verified"
    trail = f"/v1/enterprises/{credit_code}/queries"
    check(document, "get", "/v1/enterprises/{credit_code}/queries",
          client.get(trail, headers=node.signed_headers("regulator", trail)))
    upload = f"/v1/records/{record_id}/payload"
    headers = sign_request(node.preset.key("bureau:shanghai"), node.preset.chain_id,
                           node.runtime.config.node_id, "PUT", upload, int(time.time() * 1000))
    check(document, "put", "/v1/records/{record_id}/payload",
          client.put(upload, json={"payload": record.to_json_object()}, headers=headers))
    check(document, "get", "/dashboard/topology", client.get("/dashboard/topology"))
    check(document, "get", "/dashboard/recent", client.get("/dashboard/recent"))


def test_the_json_rpc_answer_schema_holds_for_results_and_errors(
        node: ApiNode, document: dict[str, Any], tmp_path: Path) -> None:
    for payload in ({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                    {"jsonrpc": "2.0", "id": "x", "method": "eth_nothing"},
                    [{"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"}]):
        check(document, "post", "/rpc", node.client.post("/rpc", json=payload))
