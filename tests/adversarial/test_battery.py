"""The adversarial battery against one node's whole app in the test process (cases: battery.py).

Every case must be refused (`judge`) and must change nothing: chain head, mempool, record store,
audit trail, sender nonces, links and the replay cache's effect are compared before and after
each case. Gas bombs against members' contracts, and the battery over HTTP against real node
processes, run in test_quorum_node.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain.genesis import Genesis
from chain.presets import Preset
from contracts import bindings
from tests.adversarial.battery import ACCOUNTS, CODE, Case, build_cases, judge
from tests.nodes.api_node import ApiNode, make_api_node, tax_record


def snapshot(node: ApiNode) -> tuple[object, ...]:
    """What a refused request must not change."""
    runtime = node.runtime
    ledger = runtime.ledger
    return (ledger.head, len(ledger.mempool), tuple(sorted(ledger.mempool.by_hash)),
            len(runtime.record_store.payloads),  # type: ignore[attr-defined]
            node.services.audit.last_sequence,
            tuple(ledger.pending_nonce(node.preset.key(label).address) for label in ACCOUNTS),
            tuple((p, link.cut, link.extra_delay_ms) for p, link in
                  sorted(runtime.transport.links.items())))


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    """A node with one published record (so reports and trails have something to refuse)."""
    built = make_api_node(preset, genesis, tmp_path_factory.mktemp("battery"))
    response = built.client.post("/v1/records", json=built.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:1")))
    assert response.status_code == 202, response.text
    built.commit()
    return built


@pytest.fixture(scope="module")
def cases(node: ApiNode) -> list[Case]:
    return build_cases(node)


def test_the_battery_holds_over_200_cases_in_every_family(cases: list[Case]) -> None:
    families = {case.family for case in cases}
    counts = {family: sum(case.family == family for case in cases) for family in sorted(families)}
    print(f"battery: {len(cases)} cases {counts}")
    assert len(cases) >= 200, len(cases)
    assert families >= {"malformed", "oversized", "nested", "unauthorized", "cross-site",
                        "inadmissible", "odd path", "odd method"}  # replays: their own test


def test_every_hostile_request_is_refused_and_changes_nothing(node: ApiNode,
                                                               cases: list[Case]) -> None:
    client: TestClient = node.client
    failures = []
    for case in cases:
        before = snapshot(node)
        response = client.request(case.method, case.path, content=case.body,
                                  headers=case.headers)
        text = response.text
        problem = judge(case, response.status_code, text)
        if snapshot(node) != before:
            problem = f"changed state ({response.status_code} {text[:120]})"
        if problem is not None:
            failures.append(f"{case.family} / {case.name}: {problem}")
    assert failures == [], "\n".join(failures[:20])


def test_replayed_requests_are_refused_and_change_nothing(node: ApiNode,
                                                          preset: Preset) -> None:
    """A signed read replayed with its nonce, a transaction sent twice, a committed one again."""
    path = f"/v1/enterprises/{CODE}/queries"
    headers = node.signed_headers("regulator", path, nonce="battery-replay-1")
    assert node.client.get(path, headers=headers).status_code == 200
    for _ in range(3):
        before = snapshot(node)
        replay = node.client.get(path, headers=headers)
        assert replay.status_code == 401 and replay.json()["error"] == "replayed_request"
        assert snapshot(node) == before
    raw = node.sign("bureau:nanjing", node.genesis.contracts.registry,
                    bindings.encode_revoke(b"\5" * 32, 1))
    body = {"raw": "0x" + raw.hex()}
    assert node.client.post("/v1/transactions", json=body).status_code == 202
    before = snapshot(node)
    again = node.client.post("/v1/transactions", json=body)
    assert again.status_code == 409 and snapshot(node) == before
    node.commit()
    before = snapshot(node)
    committed = node.client.post("/v1/transactions", json=body)
    assert committed.status_code == 409 and committed.json()["error"] == "nonce_too_low"
    assert snapshot(node) == before
    rpc = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1,
                                         "method": "eth_sendRawTransaction",
                                         "params": [body["raw"]]}).json()
    assert rpc["error"]["data"]["error"] == "nonce_too_low" and snapshot(node) == before
    assert Path(__file__).name == "test_battery.py"
