"""A publish sent through JSON-RPC has no payload: reports say so until its publisher uploads it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE, encode_record, payload_hash, record_id_for
from chain.wallet import sign_digest
from contracts import bindings
from nodes.query.request_signing import sign_request
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

SHANGHAI = "enterprise:shanghai:1"


@pytest.fixture
def node(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path)


def grant_bank(node: ApiNode) -> None:
    enterprise = node.preset.enterprise(SHANGHAI)
    code = enterprise.credit_code.to_bytes32()
    bank = node.preset.key("bank:hangzhou").address
    expires_at = int(time.time()) + 3600
    signature = sign_digest(node.preset.key(enterprise.label), bindings.grant_digest(
        node.preset.chain_id, node.genesis.contracts.authorization, code, bank,
        ALL_KINDS_SCOPE, expires_at, 0))
    granted = node.sign("bank:hangzhou", node.genesis.contracts.authorization,
                        bindings.encode_grant(code, ALL_KINDS_SCOPE, expires_at, 0, signature.v,
                                              signature.r, signature.s))
    assert node.client.post("/v1/grants", json={"raw": "0x" + granted.hex()}).status_code == 202
    node.commit()


def report_item(node: ApiNode) -> dict[str, object]:
    path = f"/v1/enterprises/{node.preset.enterprise(SHANGHAI).credit_code.code}/report"
    response = node.client.get(path, headers=node.signed_headers("bank:hangzhou", path))
    assert response.status_code == 200, response.text
    [item] = response.json()["records"]
    return dict(item)


def put_payload(node: ApiNode, label: str, record_id: bytes, payload: object) -> tuple[
        int, dict[str, object]]:
    path = f"/v1/records/0x{record_id.hex()}/payload"
    headers = sign_request(node.preset.key(label), node.preset.chain_id,
                           node.runtime.config.node_id, "PUT", path, int(time.time() * 1000))
    response = node.client.put(path, json={"payload": payload}, headers=headers)
    return response.status_code, response.json()


def test_a_payload_published_through_rpc_is_uploaded_later(node: ApiNode) -> None:
    record = tax_record(node.preset, SHANGHAI)
    raw = node.publish_body("bureau:shanghai", record)["raw"]
    answer = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1,
                                            "method": "eth_sendRawTransaction",
                                            "params": [raw]}).json()
    assert "result" in answer, answer
    node.commit()
    grant_bank(node)
    item = report_item(node)
    assert item["payload_status"] == "not_uploaded" and item["payload"] is None
    assert "not uploaded" in str(item["payload_detail"])

    digest = payload_hash(encode_record(record))
    record_id = record_id_for(node.preset.key("bureau:shanghai").address, digest)
    status, body = put_payload(node, "bureau:nanjing", record_id, record.to_json_object())
    assert status == 403 and body["field"] == "signature", body
    other = tax_record(node.preset, SHANGHAI, serial=9).to_json_object()
    status, body = put_payload(node, "bureau:shanghai", record_id, other)
    assert status == 400 and body["field"] == "payload" and "hashes to" in str(body["message"])
    assert not node.runtime.record_store.has_payload(digest)
    status, body = put_payload(node, "bureau:shanghai", b"\x01" * 32, record.to_json_object())
    assert status == 404

    status, body = put_payload(node, "bureau:shanghai", record_id, record.to_json_object())
    assert status == 201 and body["stored"] is True, body
    assert body["payload_hash"] == "0x" + digest.hex()
    status, body = put_payload(node, "bureau:shanghai", record_id, record.to_json_object())
    assert status == 200 and body["stored"] is False
    item = report_item(node)
    assert item["payload_status"] == "verified" and item["payload"] == record.to_json_object()
