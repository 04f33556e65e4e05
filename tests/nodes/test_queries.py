"""Signed-query checks: replay window, consent cache and its invalidation, report assembly."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from chain.crypto import derive_private_key, keccak
from chain.errors import ConsentMissing, RateLimited, ReplayedRequest, StaleRequest
from chain.genesis import Genesis
from chain.presets import Preset
from chain.query.consent import Grant
from chain.query.replay import ReplayGuard, RequestVerifier
from chain.query.report import (
    PayloadResult,
    PayloadStatus,
    RecordViews,
    assemble_report,
    check_bytes,
    in_scope,
)
from chain.records import ALL_KINDS_SCOPE, RecordKind, encode_record, scope_of
from chain.wallet import sign_digest
from contracts import bindings
from nodes.query.audit import AuditLog
from nodes.query.request_signing import sign_request
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

SIGNER = derive_private_key(b"queries-test").address


def test_timestamps_outside_the_window_are_stale() -> None:
    guard = ReplayGuard(window_ms=30_000)
    guard.check_time(1_000_000, 1_029_000)
    for timestamp in (1_000_000 - 31_000, 1_000_000 + 31_000):
        with pytest.raises(StaleRequest):
            guard.check_time(timestamp, 1_000_000)


def test_a_nonce_is_accepted_once_per_signer() -> None:
    guard = ReplayGuard()
    guard.remember(SIGNER, "nonce-aaaa", 1_000)
    guard.remember(b"\1" * 20, "nonce-aaaa", 1_000)
    with pytest.raises(ReplayedRequest):
        guard.remember(SIGNER, "nonce-aaaa", 2_000)


def test_nonces_are_forgotten_only_after_their_request_left_the_window() -> None:
    guard = ReplayGuard(window_ms=1_000)
    guard.remember(SIGNER, "nonce-aaaa", 0)
    with pytest.raises(ReplayedRequest):
        guard.remember(SIGNER, "nonce-aaaa", 2_000)
    guard.remember(SIGNER, "nonce-bbbb", 2_001)
    assert len(guard) == 1
    guard.remember(SIGNER, "nonce-aaaa", 2_002)


def test_a_full_replay_cache_refuses_rather_than_forgets() -> None:
    guard = ReplayGuard(capacity=2)
    guard.remember(SIGNER, "nonce-0001", 0)
    guard.remember(SIGNER, "nonce-0002", 0)
    with pytest.raises(RateLimited):
        guard.remember(SIGNER, "nonce-0003", 0)


def test_verifier_recovers_once_and_counts() -> None:
    key = derive_private_key(b"verifier")
    verifier = RequestVerifier(7304, "hefei-1")
    now = int(time.time() * 1000)
    headers = sign_request(key, 7304, "hefei-1", "GET", "/v1/x", now)
    assert verifier.verify("GET", "/v1/x", headers, now) == key.address
    assert verifier.verifications == 1
    with pytest.raises(ReplayedRequest):
        verifier.verify("GET", "/v1/x", headers, now)


def _grant(node: ApiNode, label: str, querier_label: str, expires_at_s: int,
           scope: int = ALL_KINDS_SCOPE) -> None:
    enterprise = node.preset.enterprise(label)
    querier = node.preset.key(querier_label).address
    code = enterprise.credit_code.to_bytes32()
    nonce = bindings.decode_uint(node.runtime.ledger.call(
        node.genesis.contracts.authorization, bindings.encode_grant_nonce_of(code)).output)
    signature = sign_digest(node.preset.key(label), bindings.grant_digest(
        node.preset.chain_id, node.genesis.contracts.authorization, code, querier, scope,
        expires_at_s, nonce))
    node.runtime.submit_transaction(node.sign(
        querier_label, node.genesis.contracts.authorization,
        bindings.encode_grant(code, scope, expires_at_s, nonce, signature.v, signature.r,
                              signature.s)))


def test_consent_is_cached_until_a_grant_event_commits(preset: Preset, genesis: Genesis,
                                                       tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    consent = node.services.consent
    enterprise = preset.enterprise("enterprise:shanghai:1").credit_code
    bank = preset.key("bank:hangzhou").address
    now = int(time.time() * 1000)
    with pytest.raises(ConsentMissing):
        consent.require_grant(enterprise, bank, now)
    with pytest.raises(ConsentMissing):
        consent.require_grant(enterprise, bank, now)
    assert (consent.calls, consent.hits) == (1, 1)
    _grant(node, "enterprise:shanghai:1", "bank:hangzhou", now // 1000 + 3600)
    node.commit()
    grant = consent.require_grant(enterprise, bank, now)
    assert grant.scope == ALL_KINDS_SCOPE and consent.calls == 2
    consent.require_grant(enterprise, bank, now)
    assert consent.calls == 2
    with pytest.raises(ConsentMissing, match="expired"):
        consent.require_grant(enterprise, bank, (now // 1000 + 3600) * 1000)


def test_scope_withholds_other_kinds(preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    response = node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:2")))
    assert response.status_code == 202, response.text
    node.commit()
    entries = node.runtime.ledger.records_of(
        preset.enterprise("enterprise:shanghai:2").credit_code.code)
    assert in_scope(entries, scope_of([RecordKind.LOAN])) == ([], 1)
    assert in_scope(entries, scope_of([RecordKind.TAX])) == (entries, 0)


def test_a_tampered_payload_is_flagged_and_never_served(preset: Preset, genesis: Genesis,
                                                        tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    record = tax_record(preset, "enterprise:shanghai:3")
    node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    node.commit()
    ledger = node.runtime.ledger
    entries = ledger.records_of(record.enterprise.code)
    honest = encode_record(record)
    assert check_bytes(entries[0].payload_hash, honest, "shanghai-1").status is (
        PayloadStatus.VERIFIED)
    forged = honest.replace(b"1000000", b"9000000")
    result = check_bytes(entries[0].payload_hash, forged, "shanghai-1")
    assert result.status is PayloadStatus.TAMPERED and result.payload is None
    assert f"0x{keccak(forged).hex()}" in (result.detail or "")
    querier = ledger.members[preset.key("bank:hangzhou").address]
    report = assemble_report(record.enterprise, querier, Grant(ALL_KINDS_SCOPE, 2**40, False, 1),
                             entries, 0, {entries[0].payload_hash: result}, ledger.members,
                             {"node_id": "hangzhou-1"}, ledger.head.height, 0)
    item = report["records"][0]
    assert item["payload_status"] == "tampered" and item["payload"] is None
    assert item["provenance"]["origin_city"] == "shanghai"
    assert report["summary"]["tampered"] == 1


def test_revoked_versions_are_listed_without_content(preset: Preset, genesis: Genesis,
                                                     tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    record = tax_record(preset, "enterprise:shanghai:1", serial=7)
    node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    node.commit()
    ledger = node.runtime.ledger
    entry = ledger.records_of(record.enterprise.code)[0]
    node.runtime.submit_transaction(node.sign("bureau:shanghai", genesis.contracts.registry,
                                              bindings.encode_revoke(entry.record_id, 1)))
    node.commit()
    entry = ledger.record(entry.record_id)
    querier = ledger.members[preset.key("bank:hangzhou").address]
    verified = PayloadResult(PayloadStatus.VERIFIED, encode_record(record), "shanghai-1")
    report = assemble_report(record.enterprise, querier, Grant(ALL_KINDS_SCOPE, 2**40, False, 1),
                             [entry], 0, {entry.payload_hash: verified}, ledger.members,
                             {"node_id": "shanghai-1"}, ledger.head.height, 0)
    assert report["records"][0]["status"] == "revoked"
    assert report["records"][0]["payload_status"] == "withheld"
    assert report["records"][0]["payload"] is None


def test_record_views_are_shared_between_reports_without_leaking_answers(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    record = tax_record(preset, "enterprise:shanghai:2", serial=9)
    node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    node.commit()
    ledger = node.runtime.ledger
    entries = ledger.records_of(record.enterprise.code)
    querier = ledger.members[preset.key("bank:hangzhou").address]
    grant = Grant(ALL_KINDS_SCOPE, 2**40, False, 1)
    views = RecordViews()
    verified = PayloadResult(PayloadStatus.VERIFIED, encode_record(record), "shanghai-1")
    first = assemble_report(record.enterprise, querier, grant, entries, 0,
                            {entries[0].payload_hash: verified}, ledger.members,
                            {"node_id": "hangzhou-1"}, ledger.head.height, 0, views=views)
    second = assemble_report(record.enterprise, querier, grant, entries, 0, {}, ledger.members,
                             {"node_id": "hangzhou-1"}, ledger.head.height, 0, views=views)
    assert views.of(entries[0], ledger.members)[0] is views.of(entries[0], ledger.members)[0]
    assert first["records"][0]["provenance"]["origin_node"] == "shanghai-1"
    assert second["records"][0]["provenance"]["origin_node"] is None  # not the first's answer
    assert second["records"][0]["payload_status"] == "unavailable"
    assert "origin_node" not in views.of(entries[0], ledger.members)[1]
    fresh = assemble_report(record.enterprise, querier, grant, entries, 0,
                            {entries[0].payload_hash: verified}, ledger.members,
                            {"node_id": "hangzhou-1"}, ledger.head.height, 0)
    assert fresh == first  # the same document with or without kept views
    again = assemble_report(record.enterprise, querier, grant, entries, 0,
                            {entries[0].payload_hash: verified}, ledger.members,
                            {"node_id": "hangzhou-1"}, ledger.head.height, 0, views=views)
    assert again["records"][0] is first["records"][0]  # the verified item is kept whole
    elsewhere = PayloadResult(PayloadStatus.VERIFIED, encode_record(record), "shanghai-2")
    moved = assemble_report(record.enterprise, querier, grant, entries, 0,
                            {entries[0].payload_hash: elsewhere}, ledger.members,
                            {"node_id": "hangzhou-1"}, ledger.head.height, 0, views=views)
    assert moved["records"][0]["provenance"]["origin_node"] == "shanghai-2"
    renamed = dict(ledger.members)
    publisher = renamed[entries[0].publisher]
    renamed[entries[0].publisher] = dataclasses.replace(publisher, name="Renamed bureau")
    _, provenance = views.of(entries[0], renamed)
    assert provenance["publisher_name"] == "Renamed bureau"  # rebuilt for the changed member


def test_a_report_is_answered_only_after_its_audit_entry_is_fsynced(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    record = tax_record(preset, "enterprise:shanghai:1", 7)
    node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    _grant(node, "enterprise:shanghai:1", "bank:hangzhou", int(time.time()) + 3600)
    node.commit()
    path = f"/v1/enterprises/{record.enterprise.code}/report"
    response = node.client.get(path, headers=node.signed_headers("bank:hangzhou", path))
    assert response.status_code == 200, response.text
    journal = node.services.audit.journal
    assert journal is not None and journal.appended >= 1
    assert journal.synced == journal.appended and journal.fsyncs >= 1
    entry_id = response.json()["audit_entry"]
    replayed = AuditLog("shanghai-1", node.services.audit.path)  # as after kill -9
    assert f"shanghai-1.{replayed.last_sequence}" == entry_id
