"""One request cannot crash a node: deeply nested JSON on every route that reads JSON."""

from __future__ import annotations

import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from tests.nodes.api_node import ApiNode, make_api_node

NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"raw":' * 60_000 + b'"0x"' + b"}" * 60_000
JSON_ROUTES = [
    "/v1/transactions", "/rpc", "/v1/records", "/v1/grants", "/v1/grants/revocations",
    "/v1/disputes", "/v1/disputes/0x01/response", "/peer/payloads/fetch",
    "/dashboard/control/links", "/dashboard/control/partition", "/dashboard/control/slow",
    "/dashboard/control/burst",
]


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path_factory.mktemp("nested"))


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("body", [NESTED_ARRAYS, NESTED_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("content_type", ["application/json", None])
def test_nested_json_is_a_clear_4xx(node: ApiNode, path: str, body: bytes,
                                    content_type: str | None) -> None:
    height = node.runtime.ledger.head.height
    headers = {"content-type": content_type} if content_type else {}
    response = node.client.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
    document = response.json()
    if path != "/rpc":
        assert set(document) == {"error", "message", "field"}
    assert "nested" in response.text or response.status_code in (403, 404, 405), response.text
    assert node.runtime.ledger.head.height == height
    assert node.client.get("/status").status_code == 200


def test_an_oversized_json_body_is_413_before_it_is_read_whole(node: ApiNode) -> None:
    response = node.client.post("/dashboard/control/links", content=b" " * (9 * 1024 * 1024),
                                headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "oversized"
