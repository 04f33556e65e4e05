"""The REST API and JSON-RPC of one in-process node: every bad input is a 4xx JSON error."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE
from chain.wallet import sign_digest
from contracts import bindings
from nodes.api.eth_shapes import NOMINAL_BASE_FEE_WEI
from nodes.api.rate_limits import RateLimit, RateLimits
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

SHANGHAI_CODE = "91310115000010014X"


@pytest.fixture
def node(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path)


@pytest.fixture(scope="module")
def idle_node(preset: Preset, genesis: Genesis,
              tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    """A node that the tests using it never change (bad input changes nothing)."""
    return make_api_node(preset, genesis, tmp_path_factory.mktemp("idle"))


def _refused(response: httpx.Response, status: int, error: str | None = None) -> dict[
        str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert set(body) == {"error", "message", "field"}
    if error is not None:
        assert body["error"] == error, body
    return body


def test_publish_stores_the_payload_and_queues_the_transaction(node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    response = node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    assert response.status_code == 202, response.text
    digest = bytes.fromhex(response.json()["payload_hashes"][0][2:])
    assert node.runtime.record_store.has_payload(digest)
    assert len(node.runtime.ledger.mempool) == 1
    node.commit()
    record_id = node.runtime.ledger.records_of(SHANGHAI_CODE)[0].record_id
    versions = node.client.get(f"/v1/records/0x{record_id.hex()}")
    assert versions.json()["versions"][0]["provenance"]["origin_city"] == "shanghai"


def test_a_payload_that_does_not_match_the_hash_is_refused_and_nothing_is_kept(
        node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    body = node.publish_body("bureau:shanghai", record)
    body["payload"] = tax_record(node.preset, "enterprise:shanghai:1", serial=5).to_json_object()
    body_refused = _refused(node.client.post("/v1/records", json=body), 400, "malformed_input")
    assert body_refused["field"] == "payload"
    assert len(node.runtime.ledger.mempool) == 0
    assert not node.runtime.record_store.payloads  # type: ignore[attr-defined]


def test_a_publish_at_the_transactions_route_needs_its_payload(node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    body = node.publish_body("bureau:shanghai", record)
    refused = _refused(node.client.post("/v1/transactions", json={"raw": body["raw"]}), 400,
                       "malformed_input")
    assert refused["field"] == "payload"
    assert len(node.runtime.ledger.mempool) == 0
    assert not node.runtime.record_store.payloads  # type: ignore[attr-defined]
    accepted = node.client.post("/v1/transactions", json=body)
    assert accepted.status_code == 202, accepted.text
    assert len(node.runtime.ledger.mempool) == 1
    assert node.runtime.record_store.has_payload(bytes.fromhex(
        accepted.json()["payload_hashes"][0][2:]))


def test_an_invalid_credit_code_is_refused_at_every_entry_route(node: ApiNode) -> None:
    """REST, JSON-RPC and peer gossip run the same admission (chain.call_admission)."""
    bad = b"91310115000010014Y".ljust(32, b"\0")
    raws = [node.sign("bureau:shanghai", node.genesis.contracts.registry, bindings.encode_publish(
        bytes([n]) * 32, bad, 7, b"\2" * 32)) for n in range(1, 4)]
    record = tax_record(node.preset, "enterprise:shanghai:1")
    _refused(node.client.post("/v1/records", json={
        "raw": "0x" + raws[0].hex(), "payload": record.to_json_object()}), 400,
        "invalid_credit_code")
    rpc = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1,
                                         "method": "eth_sendRawTransaction",
                                         "params": ["0x" + raws[1].hex()]}).json()
    assert rpc["error"]["data"]["error"] == "invalid_credit_code", rpc
    node.runtime._handle_frames("transactions", [raws[2]])
    assert node.runtime.metrics.counters["gossip_refused"] == 1
    assert len(node.runtime.ledger.mempool) == 0


def test_a_route_refuses_another_function(node: ApiNode) -> None:
    raw = node.sign("bureau:shanghai", node.genesis.contracts.registry,
                    bindings.encode_revoke(b"\1" * 32, 1))
    _refused(node.client.post("/v1/grants", json={"raw": "0x" + raw.hex()}), 422,
             "wrong_function")


def test_a_non_member_cannot_publish(node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    body = node.publish_body("stranger", record)
    _refused(node.client.post("/v1/records", json=body), 403, "not_a_member")


@pytest.mark.parametrize("method, path, body, status", [
    ("post", "/v1/records", b"{not json", 400),
    ("post", "/v1/records", b"[]", 400),
    ("post", "/v1/records", b'{"raw": 7}', 400),
    ("post", "/v1/records", b'{"raw": "0xzz"}', 400),
    ("post", "/v1/grants", b'{"raw": "0x"}', 400),
    ("post", "/v1/grants", b'{"raw": "0x01"}', 400),
    ("post", "/v1/disputes/0x12/response", b'{"raw": "0x01"}', 400),
    ("get", "/v1/blocks/99999", None, 404),
    ("get", "/v1/blocks/-1", None, 400),
    ("get", "/v1/blocks/1e400", None, 400),
    ("get", "/v1/blocks/%204", None, 400),
    ("get", "/v1/blocks/+4", None, 400),
    ("get", "/v1/blocks/04", None, 400),
    ("get", "/v1/blocks/99999999999999999999999999", None, 404),
    ("get", "/v1/records/0x1234", None, 400),
    ("get", f"/v1/records/0x{'ab' * 32}", None, 404),
    ("get", "/v1/enterprises/91310115000010014Y", None, 400),
    ("get", "/v1/enterprises/nonsense", None, 400),
    ("get", "/v1/enterprises/91310115000099999X", None, 400),
    ("get", f"/v1/disputes/0x{'cd' * 32}", None, 404),
    ("get", f"/v1/enterprises/{SHANGHAI_CODE}/report", None, 401),
    ("get", "/v1/audit/proof/shanghai-1.1", None, 401),
    ("get", "/v1/nothing-here", None, 404),
    ("delete", "/v1/records", None, 405),
])
def test_bad_input_gets_a_4xx_json_error(idle_node: ApiNode, method: str, path: str,
                                         body: bytes | None, status: int) -> None:
    response = idle_node.client.request(method.upper(), path, content=body)
    assert 400 <= response.status_code < 500
    _refused(response, status)


def test_an_oversized_body_is_413(idle_node: ApiNode) -> None:
    response = idle_node.client.post("/v1/grants", content=b"x" * (300 * 1024))
    _refused(response, 413, "oversized")


def test_an_unknown_enterprise_is_404(node: ApiNode, preset: Preset) -> None:
    from chain.cities import City
    from chain.enterprise import make_credit_code

    code = make_credit_code(City.HEFEI, 987_654).code
    path = f"/v1/enterprises/{code}/report"
    response = node.client.get(path, headers=node.signed_headers("bank:hangzhou", path))
    _refused(response, 404, "unknown_enterprise")


def test_report_refusals(node: ApiNode) -> None:
    path = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    _refused(node.client.get(path, headers=node.signed_headers("bureau:shanghai", path)), 403,
             "missing_role")
    _refused(node.client.get(path, headers=node.signed_headers("stranger", path)), 403,
             "not_a_member")
    _refused(node.client.get(path, headers=node.signed_headers("bank:hangzhou", path)), 403,
             "consent_missing")
    stale = node.signed_headers("bank:hangzhou", path)
    stale["x-yrd-timestamp"] = str(int(time.time() * 1000) - 120_000)
    _refused(node.client.get(path, headers=stale), 401)
    other_path = node.signed_headers("bank:hangzhou", path + "x")
    _refused(node.client.get(path, headers=other_path), 403)  # recovers a stranger


def test_the_trail_is_for_the_enterprise_and_regulators(node: ApiNode) -> None:
    path = f"/v1/enterprises/{SHANGHAI_CODE}/queries"
    _refused(node.client.get(path, headers=node.signed_headers("bank:hangzhou", path)), 403,
             "forbidden")
    for label in ("enterprise:shanghai:1", "regulator"):
        response = node.client.get(path, headers=node.signed_headers(label, path))
        assert response.status_code == 200, response.text
        assert response.json()["entries"] == []


def test_rate_limits_answer_429(preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path,
                         limits=RateLimits(queries=RateLimit(0.001, 2), writes=RateLimit(1, 1)))
    path = f"/v1/enterprises/{SHANGHAI_CODE}/queries"
    statuses = [node.client.get(path, headers=node.signed_headers("regulator", path)).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    _refused(node.client.get(path, headers=node.signed_headers("regulator", path)), 429,
             "rate_limited")
    record = tax_record(preset, "enterprise:shanghai:1")
    assert node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", record)).status_code == 202
    second = tax_record(preset, "enterprise:shanghai:1", serial=1)
    _refused(node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", second)),
             429, "rate_limited")


def test_metrics_are_prometheus_text(node: ApiNode) -> None:
    path = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    node.client.get(path, headers=node.signed_headers("bank:hangzhou", path))
    text = node.client.get("/metrics").text
    assert 'yrd_height{node="shanghai-1"} 0' in text
    assert 'yrd_api_requests_total{node="shanghai-1",outcome="consent_missing",route="report"} 1' \
        in text
    assert "yrd_api_request_seconds_bucket" in text
    assert "yrd_transaction_signature_recoveries_total" in text


def _rpc(node: ApiNode, payload: object) -> Any:
    if isinstance(payload, dict):
        payload = {"jsonrpc": "2.0", **payload}
    elif isinstance(payload, list):
        payload = [{"jsonrpc": "2.0", **item} if isinstance(item, dict) else item
                   for item in payload]
    response = node.client.post("/rpc", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def test_rpc_errors_use_json_rpc_codes(node: ApiNode) -> None:
    assert node.client.post("/rpc", content=b"{").json()["error"]["code"] == -32700
    assert _rpc(node, {"id": 1, "method": "eth_nothing"})["error"]["code"] == -32601
    assert _rpc(node, {"id": 1, "method": "eth_getBalance", "params": ["0x12"]})[
        "error"]["code"] == -32602
    assert _rpc(node, {"id": 1, "method": "eth_getBlockByNumber", "params": "x"})[
        "error"]["code"] == -32602
    assert _rpc(node, [])["error"]["code"] == -32600
    first, second = _rpc(node, [1, {"id": 2, "method": "eth_chainId"}])
    assert first["error"]["code"] == -32600 and first["id"] is None
    assert second == {"jsonrpc": "2.0", "id": 2, "result": hex(node.preset.chain_id)}


def test_rpc_refuses_a_non_member_transaction(node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    raw = node.publish_body("stranger", record)["raw"]
    answer = _rpc(node, {"jsonrpc": "2.0", "id": 7, "method": "eth_sendRawTransaction",
                         "params": [raw]})
    assert answer["error"]["code"] == -32000
    assert answer["error"]["data"]["error"] == "not_a_member"


def test_rpc_reads_blocks_receipts_and_logs(node: ApiNode) -> None:
    record = tax_record(node.preset, "enterprise:shanghai:1")
    raw = node.publish_body("bureau:shanghai", record)["raw"]
    sent = _rpc(node, {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                       "params": [raw]})["result"]
    pending = _rpc(node, {"id": 2, "method": "eth_getTransactionByHash", "params": [sent]})
    assert pending["result"]["blockHash"] is None
    node.commit()
    receipt = _rpc(node, {"id": 3, "method": "eth_getTransactionReceipt",
                          "params": [sent]})["result"]
    assert receipt["status"] == "0x1" and receipt["contractAddress"] is None
    assert receipt["logs"][0]["logIndex"] == "0x0"
    topic = "0x" + bindings.event_topic(bindings.RecordPublished).hex()
    logs = _rpc(node, {"id": 4, "method": "eth_getLogs", "params": [
        {"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}]})["result"]
    assert [log["transactionHash"] for log in logs] == [sent]
    block = _rpc(node, {"id": 5, "method": "eth_getBlockByNumber",
                        "params": ["0x1", False]})["result"]
    assert block["transactions"] == [sent] and block["baseFeePerGas"] == hex(NOMINAL_BASE_FEE_WEI)
    assert _rpc(node, {"id": 6, "method": "eth_getBlockByNumber", "params": ["0x99", False]})[
        "result"] is None


def test_an_answered_report_is_logged_and_announced(node: ApiNode, preset: Preset) -> None:
    node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:1")))
    node.commit()
    enterprise = preset.enterprise("enterprise:shanghai:1")
    code = enterprise.credit_code.to_bytes32()
    bank = preset.key("bank:hangzhou").address
    expires_at = int(time.time()) + 3600
    signature = sign_digest(preset.key(enterprise.label), bindings.grant_digest(
        preset.chain_id, node.genesis.contracts.authorization, code, bank, ALL_KINDS_SCOPE,
        expires_at, 0))
    granted = node.sign("bank:hangzhou", node.genesis.contracts.authorization,
                        bindings.encode_grant(code, ALL_KINDS_SCOPE, expires_at, 0, signature.v,
                                              signature.r, signature.s))
    assert node.client.post("/v1/grants", json={"raw": "0x" + granted.hex()}).status_code == 202
    node.commit()
    path = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    headers = node.signed_headers("bank:hangzhou", path, nonce="report-0001")
    response = node.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["records"][0]["payload_status"] == "verified"
    assert report["audit_entry"] == "shanghai-1.1"
    assert node.services.audit.entries[1].querier_name == "Hangzhou Commercial Bank"
    event = next(e for e in node.runtime.recent_events if e["type"] == "query")
    assert (event["key"], event["from_city"], event["to_city"], event["verified"]) == (
        "query:report-0001", "hangzhou", "shanghai", True)


def test_a_committed_block_s_events_are_never_decoded_back_for_its_consumers(
        node: ApiNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """The native engine's logs carry the events they were encoded from: the commit hands those
    to every consumer (index, caches, dashboard) without decoding a log back."""
    record = tax_record(node.preset, "enterprise:shanghai:1")
    assert node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", record)).status_code == 202
    # a cached answer about the enterprise, which the commit must invalidate
    assert node.services.records.of(SHANGHAI_CODE) == []
    seen: list[object] = []
    decode = bindings.decode_event

    def counting(topics: Any, data: bytes) -> Any:
        event = decode(topics, data)
        seen.append(event)
        return event

    monkeypatch.setattr(bindings, "decode_event", counting)
    committed = node.commit()
    logs = [log for receipt in committed.receipts for log in receipt.logs]
    assert logs and seen == []
    assert [item.event for item in committed.events] == [log.event for log in logs]
    assert all(decode(log.topics, log.data) == log.event for log in logs)
    assert [e.record_id for e in node.services.records.of(SHANGHAI_CODE)] == [
        node.runtime.ledger.records_of(SHANGHAI_CODE)[0].record_id]


def test_minor_edge_answers(idle_node: ApiNode) -> None:
    """405 names the allowed methods; JSON-RPC is 2.0 only; an empty /rpc body is a 400 with a
    JSON-RPC parse error; path parameters and `raw` carry their patterns in the schema."""
    refused = idle_node.client.delete("/v1/records")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    old = idle_node.client.post("/rpc", json={"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"})
    assert old.json()["error"]["code"] == -32600 and "result" not in old.json()
    empty = idle_node.client.post("/rpc", content=b"")
    assert empty.status_code == 400 and empty.json()["error"]["code"] == -32700
    schema = idle_node.client.get("/openapi.json").json()
    block = schema["paths"]["/v1/blocks/{height}"]["get"]["parameters"][0]["schema"]
    assert block["pattern"] == "^(0|[1-9][0-9]{0,31})$"
    for path in ("/v1/records/{record_id}", "/v1/disputes/{dispute_id}",
                 "/v1/transactions/{transaction_hash}"):
        assert schema["paths"][path]["get"]["parameters"][0]["schema"]["pattern"].startswith(
            "^0x"), path
    assert "pattern" in schema["paths"]["/v1/enterprises/{credit_code}"]["get"][
        "parameters"][0]["schema"]
    grants = schema["paths"]["/v1/grants"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert "pattern" in str(grants) or "$ref" in str(grants)
