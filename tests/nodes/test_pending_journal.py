"""The mempool journal: acknowledged transactions come back after a crash; committed ones do not."""

from __future__ import annotations

from pathlib import Path

from chain.genesis import Genesis
from chain.presets import Preset
from nodes.runtime.pending import PendingJournal
from tests.nodes.api_node import make_api_node, tax_record

BUREAUS = ("bureau:shanghai", "bureau:hangzhou", "bureau:hefei")


def test_acknowledged_transactions_are_restored_and_committed_ones_dropped(
        preset: Preset, genesis: Genesis, tmp_path: Path) -> None:
    path = tmp_path / "mempool.journal"
    first = make_api_node(preset, genesis, tmp_path / "first")
    first.runtime.pending_journal = PendingJournal(path)
    first.runtime.restore_pending()
    hashes = set()
    for serial, bureau in enumerate(BUREAUS):
        response = first.client.post("/v1/records", json=first.publish_body(
            bureau, tax_record(preset, f"enterprise:{bureau.split(':')[1]}:1", serial)))
        assert response.status_code == 202, response.text
        hashes.add(bytes.fromhex(response.json()["transaction_hash"][2:]))
    journal = first.runtime.pending_journal
    assert journal.journal.synced == journal.journal.appended == 3  # fsynced before the 202

    # Every node crashed before a block: a fresh runtime replays the journal into its mempool.
    second = make_api_node(preset, genesis, tmp_path / "second")
    second.runtime.pending_journal = PendingJournal(path)
    second.runtime.restore_pending()
    assert second.runtime.pending_journal.restored == 3
    assert set(second.runtime.ledger.mempool.by_hash) == hashes
    committed = second.commit()
    assert {admitted.hash for admitted in committed.admitted} == hashes
    assert second.runtime.pending_journal.pending == 0

    # Restarted after the commit: the committed transactions are dropped, not queued again.
    third = PendingJournal(path)
    assert third.restore(second.runtime.ledger) == []
    assert third.dropped == 3
    third.close()
    assert PendingJournal(path).journal.replay() == []
