"""Dashboard privacy and control (nodes/dashboard/privacy.py, control_guard.py,
nodes/api/dashboard_detail.py): queries are public only as city-to-city arcs, full detail needs a
signed regulator, and control needs the network's token, JSON and no foreign origin."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE
from chain.storage import MemoryBlockStore
from chain.wallet import sign_digest
from contracts import bindings
from nodes.api.app import create_app
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.dashboard.privacy import public_event
from nodes.dashboard.stream import node_events
from nodes.runtime.asyncio_ports import process_node
from nodes.runtime.config import NodeConfig
from nodes.runtime.node import NodeRuntime
from nodes.runtime.peer_channels import PeerLink
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

SHANGHAI_CODE = "91310115000010014X"
TOKEN = "network-control-token"
PEER = "nanjing-1"


def test_a_public_query_event_is_an_arc_between_cities() -> None:
    event = {"type": "query", "key": "query:nonce-42", "from_city": "hangzhou",
             "to_city": "shanghai", "origin_cities": ["shanghai"], "enterprise": SHANGHAI_CODE,
             "querier": "0xabc", "querier_name": "Hangzhou Commercial Bank", "grant_height": 7,
             "served_by": "hangzhou-1", "outcome": "answered", "verified": True, "records": 1,
             "node": "hangzhou-1", "city": "hangzhou", "time_ms": 5}
    shown = public_event(event)
    assert shown["from_city"] == "hangzhou" and shown["to_city"] == "shanghai"
    assert not {"enterprise", "querier", "querier_name", "grant_height"} & set(shown)
    assert "nonce-42" not in json.dumps(shown)
    assert shown["key"] == public_event(dict(event))["key"] != event["key"]
    commit = {"type": "commit", "height": 3}
    assert public_event(commit) is commit


@pytest.fixture
def answered(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    """A node that answered one signed report (nonce report-0001) of a Hangzhou bank."""
    node = make_api_node(preset, genesis, tmp_path)
    node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:1")))
    node.commit()
    enterprise = preset.enterprise("enterprise:shanghai:1")
    code = enterprise.credit_code.to_bytes32()
    bank = preset.key("bank:hangzhou").address
    expires_at = int(time.time()) + 3600
    signature = sign_digest(preset.key(enterprise.label), bindings.grant_digest(
        preset.chain_id, genesis.contracts.authorization, code, bank, ALL_KINDS_SCOPE,
        expires_at, 0))
    granted = node.sign("bank:hangzhou", genesis.contracts.authorization, bindings.encode_grant(
        code, ALL_KINDS_SCOPE, expires_at, 0, signature.v, signature.r, signature.s))
    assert node.client.post("/v1/grants", json={"raw": "0x" + granted.hex()}).status_code == 202
    node.commit()
    path = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    response = node.client.get(path, headers=node.signed_headers("bank:hangzhou", path,
                                                                   nonce="report-0001"))
    assert response.status_code == 200, response.text
    return node


@pytest.mark.parametrize("route", ["/dashboard/recent", "/dashboard/snapshot"])
def test_the_public_recent_events_do_not_leak_the_trail(answered: ApiNode, preset: Preset,
                                                        route: str) -> None:
    events = answered.client.get(route).json()["events"]
    queries = [e for e in events if e["type"] == "query"]
    text = json.dumps(queries, ensure_ascii=False)  # grants are on-chain facts: public
    assert len(queries) == 1 and queries[0]["from_city"] == "hangzhou"
    bank = preset.key("bank:hangzhou").address.hex()
    for secret in ("report-0001", "Hangzhou Commercial Bank", bank):
        assert secret.lower() not in text.lower(), secret
    assert not any(SHANGHAI_CODE in json.dumps(e) for e in queries)


def test_full_detail_needs_a_signed_regulator(answered: ApiNode) -> None:
    path = "/v1/dashboard/recent"
    assert answered.client.get(path).status_code == 401
    as_bank = answered.client.get(path, headers=answered.signed_headers("bank:hangzhou", path))
    assert as_bank.status_code == 403 and as_bank.json()["error"] == "forbidden"
    full = answered.client.get(path, headers=answered.signed_headers("regulator", path))
    assert full.status_code == 200, full.text
    [query] = [e for e in full.json()["events"] if e["type"] == "query"]
    assert (query["key"], query["enterprise"]) == ("query:report-0001", SHANGHAI_CODE)


@pytest.fixture
def controlled(preset: Preset, genesis: Genesis, tmp_path: Path) -> tuple[NodeRuntime,
                                                                            TestClient]:
    ensure_certificates(preset, tmp_path)
    config = NodeConfig("shanghai-1", preset.name, tmp_path / "shanghai-1", "127.0.0.1", 27_102,
                        peers={PEER: "http://127.0.0.1:27103"}, control=True,
                        control_token=TOKEN, peer_channels={PEER: "127.0.0.1:27107"})
    runtime = process_node(config, genesis, MemoryBlockStore(),
                           load_validator_set(preset, tmp_path)).runtime
    assert isinstance(runtime.transport.links[PEER], PeerLink)  # a link to cut and slow
    return runtime, TestClient(create_app(runtime), raise_server_exceptions=False)


CUT = json.dumps({"peers": [PEER], "cut": True})
JSON = "application/json"
REFUSALS = {
    "no token": ({"content-type": JSON}, 403, "x-yrd-control"),
    "wrong token": ({"content-type": JSON, "x-yrd-control": "guess"}, 403, "x-yrd-control"),
    "form post": ({"content-type": "application/x-www-form-urlencoded",
                   "x-yrd-control": TOKEN}, 415, "content-type"),
    "text post": ({"content-type": "text/plain", "x-yrd-control": TOKEN}, 415,
                  "content-type"),
    "cross-site": ({"content-type": JSON, "x-yrd-control": TOKEN,
                    "origin": "http://evil.example"}, 403, "origin"),
    "other local port": ({"content-type": JSON, "x-yrd-control": TOKEN,
                          "origin": "http://127.0.0.1:9"}, 403, "origin"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_control_is_refused_without_token_json_and_own_origin(
        case: str, controlled: tuple[NodeRuntime, TestClient]) -> None:
    runtime, client = controlled
    headers, status, field = REFUSALS[case]
    response = client.post("/dashboard/control/links", content=CUT, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert not runtime.transport.links[PEER].cut, "a refused control request changed nothing"


def test_control_with_the_token_from_the_page_origin_works(
        controlled: tuple[NodeRuntime, TestClient]) -> None:
    runtime, client = controlled
    response = client.post("/dashboard/control/links", content=CUT, headers={
        "content-type": JSON, "x-yrd-control": TOKEN, "origin": runtime.config.url})
    assert response.status_code == 200, response.text
    assert runtime.transport.links[PEER].cut


QUERY = {"type": "query", "key": "query:stream-nonce", "from_city": "hangzhou",
         "to_city": "shanghai", "enterprise": SHANGHAI_CODE, "querier": "0xabc",
         "querier_name": "Hangzhou Commercial Bank", "outcome": "answered"}


def _first_query(runtime: NodeRuntime, public: bool) -> dict[str, object]:
    """Open this node's event stream, emit a query, read it back from the stream."""
    async def read() -> dict[str, object]:
        stream = node_events(runtime, public=public)
        await stream.__anext__()  # preamble
        await stream.__anext__()  # the node's status
        runtime.emit(dict(QUERY))
        chunk = await stream.__anext__()
        await stream.aclose()
        for line in chunk.decode("utf-8").splitlines():
            if line.startswith("data:") and '"query"' in line:
                return dict(json.loads(line[5:]))
        raise AssertionError(chunk)

    return asyncio.run(read())


def test_the_public_stream_shows_an_arc_and_the_regulator_stream_everything(
        node_for_stream: ApiNode) -> None:
    public = _first_query(node_for_stream.runtime, public=True)
    assert public["from_city"] == "hangzhou" and "querier" not in public
    assert "enterprise" not in public and "stream-nonce" not in json.dumps(public)
    full = _first_query(node_for_stream.runtime, public=False)
    assert (full["querier_name"], full["enterprise"]) == ("Hangzhou Commercial Bank",
                                                          SHANGHAI_CODE)


def test_the_full_stream_needs_a_signed_regulator(node_for_stream: ApiNode) -> None:
    path = "/v1/dashboard/events"
    assert node_for_stream.client.get(path).status_code == 401
    as_bank = node_for_stream.client.get(path, headers=node_for_stream.signed_headers(
        "bank:hangzhou", path))
    assert as_bank.status_code == 403


@pytest.fixture
def node_for_stream(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path)
