"""The institution-facing API on four real node processes (local4).

A Shanghai bureau publishes; a Hangzhou bank without consent gets 403; the enterprise grants;
the query returns the record with Shanghai as origin; the audit trail lists the query and its
proof verifies; a payload tampered on the origin's disk is flagged; revoked and expired grants
give 403; a replayed signature gives 401; disputes run their course; schemathesis finds no 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import lmdb
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from chain.crypto import checksum_address
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from nodes.client import ApiError, Enterprise, Institution, NodeClient
from tests.e2e.network import RunningNetwork

pytestmark = pytest.mark.slow
ENTERPRISE = "enterprise:shanghai:1"
STREAMING_ROUTES = ("/dashboard/events", "/dashboard/node-events")  # never end by design
EXAMPLES_PER_OPERATION = 25


@dataclass
class Actors:
    """Clients of the three nodes involved and the institutions using them."""

    shanghai: NodeClient
    hangzhou: NodeClient
    nanjing: NodeClient
    bureau: Institution
    bank: Institution
    enterprise: Enterprise
    regulator: Institution


@pytest.fixture(scope="module")
def actors(local4: RunningNetwork) -> Iterator[Actors]:
    preset = local4.preset
    shanghai = NodeClient(local4.url("shanghai-1"))
    hangzhou = NodeClient(local4.url("hangzhou-1"))
    nanjing = NodeClient(local4.url("nanjing-1"))
    spec = preset.enterprise(ENTERPRISE)
    yield Actors(shanghai, hangzhou, nanjing,
                 Institution(preset.key("bureau:shanghai"), shanghai),
                 Institution(preset.key("bank:hangzhou"), hangzhou),
                 Enterprise(preset.key(spec.label), spec.credit_code, shanghai),
                 Institution(preset.key("regulator"), shanghai))
    for client in (shanghai, hangzhou, nanjing):
        client.close()


def _code(actors: Actors) -> str:
    return actors.enterprise.credit_code.code


def _publish(actors: Actors, serial: int) -> tuple[bytes, bytes]:
    record = CreditRecord(actors.enterprise.credit_code, RecordKind.TAX, "2024",
                          {"paid_cny": 1_000_000 + serial, "grade": "A"})
    published = actors.bureau.publish(record)
    actors.shanghai.wait_committed(published.transaction_hash)
    actors.hangzhou.wait_committed(published.transaction_hash)
    return published.record_id, published.payload_hash


def _grant(actors: Actors, bank: Institution, node: NodeClient, expires_at_s: int) -> None:
    signature, nonce = actors.enterprise.sign_grant(bank.address, expires_at_s)
    node.wait_committed(bank.submit_grant(actors.enterprise.credit_code, signature,
                                          ALL_KINDS_SCOPE, expires_at_s, nonce))


def test_consent_query_audit_and_replay(actors: Actors, local4: RunningNetwork) -> None:
    record_id, _ = _publish(actors, 1)
    with pytest.raises(ApiError) as refused:
        actors.bank.report(_code(actors))
    assert (refused.value.status, refused.value.error) == (403, "consent_missing")

    _grant(actors, actors.bank, actors.hangzhou, int(time.time()) + 3600)
    path = f"/v1/enterprises/{_code(actors)}/report"
    headers = actors.hangzhou.signed_headers(actors.bank.key, path)
    answer = actors.hangzhou.http.get(actors.hangzhou.url + path, headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    item = next(r for r in report["records"] if r["record_id"] == "0x" + record_id.hex())
    assert item["payload_status"] == "verified"
    assert item["payload"]["fields"]["paid_cny"] == 1_000_001
    provenance = item["provenance"]
    assert provenance["origin_city"] == "shanghai" and provenance["origin_node"] == "shanghai-1"
    assert provenance["block_height"] >= 1 and provenance["transaction_hash"].startswith("0x")
    assert item["version"] == 1 and item["status"] == "active"
    assert report["node"]["node_id"] == "hangzhou-1"

    replayed = actors.hangzhou.http.get(actors.hangzhou.url + path, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["error"] == "replayed_request"

    entry_id = report["audit_entry"]
    assert entry_id.startswith("hangzhou-1.")
    trail = actors.enterprise.trail()  # asked at Shanghai, gathered from every node
    entry = next(e for e in trail["entries"] if e["entry_id"] == entry_id)
    assert entry["querier"] == checksum_address(actors.bank.address)
    assert (entry["querier_name"], entry["node_id"]) == ("Hangzhou Commercial Bank", "hangzhou-1")
    local4.wait_for(lambda: actors.enterprise.trail()["entries"][0]["anchored"], 30,
                    "the audit entry to be anchored")
    proof = actors.enterprise.audit_proof(entry_id)
    assert proof["verified"] is True
    assert actors.shanghai.verify_audit_proof(proof)
    with pytest.raises(ApiError) as forbidden:
        Institution(local4.preset.key("bank:hefei"), actors.shanghai).audit_proof(entry_id)
    assert forbidden.value.status == 403


def _metric(client: NodeClient, name: str) -> float:
    text = client.http.get(client.url + "/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def test_a_thousand_remote_reports_open_no_peer_connection(actors: Actors,
                                                           local4: RunningNetwork) -> None:
    _publish(actors, 5)
    _grant(actors, actors.bank, actors.hangzhou, int(time.time()) + 3600)
    report = actors.bank.report(_code(actors))  # warm: channels are up, caches filled
    assert all(r["payload_status"] != "unavailable" for r in report["records"])
    opened = {node: _metric(client, "yrd_peer_connections_opened_total")
              for node, client in (("hangzhou", actors.hangzhou), ("shanghai", actors.shanghai))}
    served = _metric(actors.shanghai, "yrd_peer_requests_served_total")
    for _ in range(1_000):
        report = actors.bank.report(_code(actors))
        assert report["summary"]["verified"] >= 1
        assert report["records"][0]["provenance"]["origin_node"] == "shanghai-1"
    assert _metric(actors.hangzhou, "yrd_peer_connections_opened_total") == opened["hangzhou"]
    assert _metric(actors.shanghai, "yrd_peer_connections_opened_total") == opened["shanghai"]
    assert _metric(actors.shanghai, "yrd_peer_requests_served_total") >= served + 1_000
    for path in ("/peer/consensus", "/peer/transactions", "/peer/payloads/fetch"):
        assert actors.shanghai.http.post(actors.shanghai.url + path, content=b"x").status_code \
            in (404, 405)
    assert actors.shanghai.http.get(
        actors.shanghai.url + f"/peer/audit/{_code(actors)}").status_code == 404


def test_a_payload_tampered_at_the_origin_is_flagged(actors: Actors,
                                                     local4: RunningNetwork) -> None:
    record_id, payload_hash = _publish(actors, 2)
    records_dir = local4.data_dir / "shanghai-1" / "records"
    environment = lmdb.open(str(records_dir), max_dbs=8, lock=True, subdir=True)
    try:
        payloads = environment.open_db(b"payloads")
        with environment.begin(write=True, db=payloads) as transaction:
            honest = transaction.get(payload_hash)
            assert honest is not None
            transaction.put(payload_hash, honest.replace(b"1000002", b"9000002"))
    finally:
        environment.close()
    report = actors.bank.report(_code(actors))
    item = next(r for r in report["records"] if r["record_id"] == "0x" + record_id.hex())
    assert item["payload_status"] == "tampered" and item["payload"] is None
    assert "shanghai-1" in item["payload_detail"]
    assert report["summary"]["tampered"] >= 1


def test_revoked_and_expired_grants_are_refused(actors: Actors, local4: RunningNetwork) -> None:
    signature, nonce = actors.enterprise.sign_revocation(actors.bank.address)
    actors.hangzhou.wait_committed(actors.bank.submit_revocation(
        actors.enterprise.credit_code, actors.bank.address, signature, nonce))
    with pytest.raises(ApiError) as revoked:
        actors.bank.report(_code(actors))
    assert (revoked.value.status, revoked.value.error) == (403, "consent_missing")
    assert "revoked" in revoked.value.message

    nanjing_bank = Institution(local4.preset.key("bank:nanjing"), actors.nanjing)
    expires_at = int(time.time()) + 6
    _grant(actors, nanjing_bank, actors.nanjing, expires_at)
    time.sleep(max(0.0, expires_at - time.time() + 0.2))
    with pytest.raises(ApiError) as expired:
        nanjing_bank.report(_code(actors))
    assert (expired.value.status, expired.value.error) == (403, "consent_missing")
    assert "expired" in expired.value.message


def test_a_dispute_is_opened_answered_and_upheld(actors: Actors) -> None:
    record_id, _ = _publish(actors, 3)
    transaction, dispute_id = actors.bank.open_dispute(record_id, "the tax grade is wrong")
    actors.shanghai.wait_committed(transaction)
    path = f"/v1/disputes/0x{dispute_id.hex()}"
    assert actors.shanghai.get(path)["status"] == "open"
    actors.shanghai.wait_committed(actors.bureau.respond(dispute_id, "grade checked: A"))
    assert actors.shanghai.get(path)["status"] == "responded"
    actors.shanghai.wait_committed(actors.regulator.resolve(dispute_id, upheld=True))
    assert actors.shanghai.get(path)["status"] == "upheld"
    versions = actors.hangzhou.get(f"/v1/records/0x{record_id.hex()}")["versions"]
    assert versions[-1]["status"] == "revoked"


def test_explorer_and_metrics(actors: Actors) -> None:
    latest = actors.hangzhou.get("/v1/blocks/latest")
    assert latest["height"] >= 1 and latest["certified"]
    assert actors.hangzhou.get("/v1/blocks/1")["transactions"]
    metrics = actors.hangzhou.http.get(actors.hangzhou.url + "/metrics").text
    assert 'route="report"' in metrics and "yrd_query_signature_verifications_total" in metrics


def test_schemathesis_finds_no_server_error(local4: RunningNetwork) -> None:
    url = local4.url("nanjing-1")
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMING_ROUTES:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=url, timeout=10)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code} "
                                f"{response.text[:200]}")

        call()
    assert not failures, failures


def test_deeply_nested_json_does_not_kill_a_node_process(local4: RunningNetwork) -> None:
    url = local4.url("hefei-1")
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v1/transactions", "/rpc", "/v1/records", "/v1/grants", "/v1/disputes",
                 "/dashboard/control/links"):
        response = local4.client.post(url + path, content=nested,
                                      headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert local4.client.get(url + "/status").status_code == 200
