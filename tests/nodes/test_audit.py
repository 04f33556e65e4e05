"""The audit log: entries, batches, proofs, persistence, and anchoring on chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.errors import NotAnchored, NotFound
from chain.genesis import Genesis
from chain.merkle import verify_merkle_proof
from chain.presets import Preset
from chain.query.audit import (
    MAX_BATCH_ENTRIES,
    anchored_root,
    check_proof,
    encode_entry,
    entry_to_json,
    parse_entry_id,
    proof_from_json,
    proof_to_json,
)
from nodes.query.audit import AuditAnchorer, AuditLog
from tests.nodes.api_node import make_api_node


def _fill(log: AuditLog, count: int, enterprise: str = "91310115000010014X") -> None:
    for index in range(count):
        log.append(1_000 + index, enterprise, "0xabc", "Bank", "hangzhou", "0x01", 1)


def test_entries_batch_and_prove(tmp_path: Path) -> None:
    log = AuditLog("hangzhou-1")
    _fill(log, 5)
    with pytest.raises(NotAnchored):
        log.proof(3)
    batch = log.propose(1)
    assert batch is not None and (batch.first_sequence, batch.count) == (1, 5)
    log.confirm(batch)
    assert log.pending == 0
    proof = log.proof(3)
    assert proof.leaf == encode_entry(log.entries[3])
    assert verify_merkle_proof(proof.leaf, proof.proof, batch.merkle_root)
    assert check_proof(proof_from_json(proof_to_json(proof)), batch.merkle_root)
    assert not check_proof(proof, b"\1" * 32)


def test_a_batch_holds_at_most_the_limit() -> None:
    log = AuditLog("hangzhou-1")
    _fill(log, MAX_BATCH_ENTRIES + 3)
    first = log.propose(1)
    assert first is not None and first.count == MAX_BATCH_ENTRIES
    log.confirm(first)
    second = log.propose(2)
    assert second is not None and (second.first_sequence, second.count) == (
        MAX_BATCH_ENTRIES + 1, 3)


def test_the_log_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.journal"
    log = AuditLog("hangzhou-1", path)
    _fill(log, 3)
    batch = log.propose(1)
    assert batch is not None
    log.confirm(batch)
    _fill(log, 2, enterprise="91330106000030011X")
    log.close()
    again = AuditLog("hangzhou-1", path)
    assert again.last_sequence == 5 and again.anchored_through == 3 and again.pending == 2
    assert [e.sequence for e in again.entries_of("91310115000010014X", 10)] == [3, 2, 1]
    assert check_proof(again.proof(2), batch.merkle_root)
    again.close()


def test_entry_ids() -> None:
    assert parse_entry_id("hangzhou-1.42") == ("hangzhou-1", 42)
    for bad in ("hangzhou-1", ".3", "x.-1", "x.1e3"):
        with pytest.raises(NotFound, match="audit entry ids"):
            parse_entry_id(bad)


def test_the_anchorer_puts_the_root_on_chain(preset: Preset, genesis: Genesis,
                                             tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path, node_id="hangzhou-1")
    log, anchorer = node.services.audit, node.services.anchorer
    _fill(log, 4)
    assert anchorer.anchor_now() is not None
    assert anchorer.anchor_now() is None  # one batch in flight at a time
    node.commit()
    assert log.anchored_through == 4
    batch = log.batches[-1]
    root = anchored_root(node.runtime.ledger, "hangzhou-1", 1)
    assert root == batch.merkle_root and batch.block_height == node.runtime.ledger.head.height
    assert check_proof(log.proof(4), root)
    _fill(log, 1)
    anchorer.anchor_now()
    node.commit()
    assert [b.batch_seq for b in log.batches] == [1, 2]


def test_a_restarted_node_reconciles_with_the_chain(preset: Preset, genesis: Genesis,
                                                    tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path, node_id="hefei-1")
    log = node.services.audit
    _fill(log, 2)
    node.services.anchorer.anchor_now()
    records_before_commit = (log.path.read_bytes() if log.path else b"")
    node.commit()
    assert log.path is not None
    log.close()
    log.path.write_bytes(records_before_commit)  # the batch record was lost in a crash
    reopened = AuditLog("hefei-1", log.path)
    assert reopened.anchored_through == 0
    AuditAnchorer(reopened, node.runtime.ledger, preset.key("node:hefei-1"),
                  node.runtime.submit_transaction)
    assert reopened.anchored_through == 2
    assert check_proof(reopened.proof(1), anchored_root(node.runtime.ledger, "hefei-1", 1))


def test_a_full_backlog_is_anchored_without_waiting_for_the_timer(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path, node_id="hangzhou-1")
    log, anchorer = node.services.audit, node.services.anchorer
    _fill(log, 2 * MAX_BATCH_ENTRIES + 5)
    assert anchorer.anchor_now() is not None
    node.commit()  # confirms batch 1 and, the backlog being full, submits batch 2 at once
    assert log.anchored_through == MAX_BATCH_ENTRIES
    assert anchorer.anchors_submitted == 2
    node.commit()
    assert log.anchored_through == 2 * MAX_BATCH_ENTRIES
    assert anchorer.anchors_submitted == 2  # 5 entries left: they wait for the timer


def test_an_older_json_lines_trail_is_imported_once(tmp_path: Path) -> None:
    old = AuditLog("hangzhou-1")
    _fill(old, 2)
    legacy = tmp_path / "audit.jsonl"
    legacy.write_text("".join(
        json.dumps({"entry": entry_to_json(old.entries[sequence])}) + "\n"
        for sequence in (1, 2)), encoding="utf-8")
    log = AuditLog("hangzhou-1", tmp_path / "audit.journal")
    assert log.last_sequence == 2 and not legacy.exists()
    log.close()
    again = AuditLog("hangzhou-1", tmp_path / "audit.journal")
    assert [e.sequence for e in again.entries_of("91310115000010014X", 10)] == [2, 1]
    again.close()
def test_a_wiped_node_rebuilds_its_audit_state_and_never_reuses_an_anchored_id(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    node = make_api_node(preset, genesis, tmp_path, node_id="hefei-1")
    log = node.services.audit
    _fill(log, 3)
    node.services.anchorer.anchor_now()
    node.commit()
    assert log.anchored_through == 3
    wiped = AuditLog("hefei-1", tmp_path / "wiped" / "audit.jsonl")  # a fresh, empty disk
    anchorer = AuditAnchorer(wiped, node.runtime.ledger, preset.key("node:hefei-1"),
                             node.runtime.submit_transaction)
    assert (wiped.anchored_through, wiped.pending, anchorer.next_batch_seq()) == (3, 0, 2)
    with pytest.raises(NotFound, match="holds no audit entry 2"):  # a 404, never a 500
        wiped.proof(2)
    _fill(wiped, 2)
    assert [e.entry_id for e in wiped.entries_of("91310115000010014X", 5)] == [
        "hefei-1.5", "hefei-1.4"]
    assert anchorer.anchor_now() is not None
    anchorer.on_commit(node.commit())  # the wiped node's own anchorer sees its batch commit
    assert wiped.anchored_through == 5
    assert check_proof(wiped.proof(5), anchored_root(node.runtime.ledger, "hefei-1", 2))
