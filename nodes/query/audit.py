"""The audit trail's shell: a durable `AuditTrail` and the anchorer that puts its roots on chain.

The rules (entries, batches, proofs) are pure and live in `chain.query.audit`. `AuditLog` adds
durability: entries and confirmed batches are appended to `audit.journal` in the node's data
directory (`nodes.storage.journal`: group commit, an entry is acknowledged only after its fsync,
so it survives `kill -9`); on restart the journal is replayed and reconciled with the anchors on
chain. `AuditAnchorer` submits the next batch's root in an
`Authorization.anchor_audit` transaction signed with the node operator's key and confirms the
batch when the `AuditAnchored` event commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from chain.crypto import PrivateKey
from chain.errors import YrdError
from chain.indexer import BlockEvent
from chain.ledger import CommittedBlock, Ledger
from chain.query.audit import (
    ANCHOR_INTERVAL_S,
    MAX_BATCH_ENTRIES,
    AuditBatch,
    AuditEntry,
    AuditTrail,
    batch_from_json,
    batch_to_json,
    chain_anchors,
    decode_entry,
    entry_to_json,
    node_id_bytes32,
)
from chain.wallet import sign_legacy
from contracts import bindings
from nodes.storage.journal import Journal

LOGGER = logging.getLogger(__name__)
ANCHOR_TIMEOUT_S = 20.0  # an anchor not committed by then is submitted again
ANCHOR_GAS = 500_000  # anchor_audit writes three storage slots
LEGACY_FILE_NAME = "audit.jsonl"  # before the journal: JSON lines, flushed but not fsynced


class AuditLog(AuditTrail):
    """A node's audit trail, journaled when given a path.

    `append` puts the entry in the journal's current group; `durable()` returns once it is
    fsynced, and the report is answered only then (`nodes.api.durability`). A batch is proposed
    for anchoring only over entries already on disk.
    """

    def __init__(self, node_id: str, path: Path | None = None) -> None:
        super().__init__(node_id)
        self.path = path
        self.journal: Journal | None = None
        if path is not None:
            self.journal = Journal(path)
            records = self.journal.replay()
            for number, record in enumerate(records, 1):
                self._apply(record, f"{path} record {number}")
            legacy = path.with_name(LEGACY_FILE_NAME)
            if not records and legacy.exists():
                self._import_legacy(legacy)

    def _apply(self, record: bytes, where: str) -> bool:
        try:
            document = json.loads(record)
            if "entry" in document:
                self.add(decode_entry(document["entry"]))
            elif "batch" in document:
                self.add_batch(batch_from_json(document["batch"]))
            return True
        except (ValueError, KeyError, TypeError) as error:
            LOGGER.warning("%s unreadable, skipped: %s", where, error)
            return False

    def _import_legacy(self, legacy: Path) -> None:
        """Move a JSON-lines audit file of an older node into the journal."""
        assert self.journal is not None
        with open(legacy, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                record = line.strip().encode("utf-8")
                if record and self._apply(record, f"{legacy} line {number}"):
                    self.journal.append(record)
        self.journal.sync()
        legacy.rename(legacy.with_name(LEGACY_FILE_NAME + ".imported"))

    def _write(self, document: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.append(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))

    async def durable(self) -> None:
        """Wait until every entry appended so far is fsynced."""
        if self.journal is not None:
            await self.journal.durable()

    def close(self) -> None:
        """Fsync and close the journal (idempotent)."""
        if self.journal is not None:
            self.journal.close()

    def append(self, time_ms: int, enterprise: str, querier: str, querier_name: str,
               querier_city: str, request_hash: str, records: int) -> AuditEntry:
        """Record a served query; returns its entry (durable after `durable()`)."""
        entry = super().append(time_ms, enterprise, querier, querier_name, querier_city,
                               request_hash, records)
        self._write({"entry": entry_to_json(entry)})
        return entry

    def propose(self, batch_seq: int) -> AuditBatch | None:
        """The next batch to anchor, over entries already fsynced."""
        if self.journal is not None and self.journal.synced < self.journal.appended:
            self.journal.sync()
        return super().propose(batch_seq)

    def confirm(self, batch: AuditBatch) -> None:
        """Record an anchored batch (one that does not follow the last confirmed is ignored)."""
        try:
            super().confirm(batch)
        except ValueError as error:
            LOGGER.warning("%s; ignored", error)
            return
        self._write({"batch": batch_to_json(batch)})


@dataclass
class _InFlight:
    batch: AuditBatch
    transaction_hash: bytes
    submitted_s: float


class AuditAnchorer:
    """Anchors a node's pending audit entries on chain, one batch at a time."""

    def __init__(self, log: AuditLog, ledger: Ledger, operator: PrivateKey,
                 submit: Any) -> None:
        self.log = log
        self.ledger = ledger
        self.operator = operator
        self.submit = submit
        self.node_key = node_id_bytes32(log.node_id)
        self.anchors_submitted = 0
        self.anchors_failed = 0
        self._in_flight: _InFlight | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.reconcile()

    def reconcile(self) -> None:
        """Confirm batches the chain holds that the log's file missed (after a crash)."""
        for batch_seq, root, count in chain_anchors(self.ledger, self.log.node_id):
            if self.log.batches and batch_seq <= self.log.batches[-1].batch_seq:
                continue
            proposed = self.log.propose(batch_seq)
            if proposed is None:
                LOGGER.info("audit batch %d (%d entries) rebuilt from the chain: this node's "
                            "copy of its entries is gone", batch_seq, count)
            elif proposed.count != count or proposed.merkle_root != root:
                LOGGER.warning("audit batch %d on chain does not match the local log", batch_seq)
            self.log.confirm(AuditBatch(batch_seq, self.log.anchored_through + 1, count, root))

    def next_batch_seq(self) -> int:
        """The batch number the contract expects next from this node."""
        return self.log.batches[-1].batch_seq + 1 if self.log.batches else 1

    def schedule(self) -> None:
        """Arm the anchoring timer if entries are pending and no timer is armed."""
        if self._timer is not None or not self.log.pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(ANCHOR_INTERVAL_S, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.anchor_now()
        self.schedule()

    def anchor_now(self) -> bytes | None:
        """Submit the next batch if none is in flight; returns the transaction hash."""
        if self._in_flight is not None:
            if time.monotonic() - self._in_flight.submitted_s < ANCHOR_TIMEOUT_S:
                return None
            LOGGER.warning("audit batch %d not committed in time; submitting again",
                           self._in_flight.batch.batch_seq)
            self._in_flight = None
        batch = self.log.propose(self.next_batch_seq())
        if batch is None:
            return None
        data = bindings.encode_anchor_audit(self.node_key, batch.batch_seq, batch.merkle_root,
                                            batch.count)
        raw = sign_legacy(self.operator, self.ledger.chain_id,
                          self.ledger.pending_nonce(self.operator.address),
                          self.ledger.contracts.authorization, data, gas=ANCHOR_GAS)
        try:
            admitted = self.submit(raw)
        except YrdError as error:
            self.anchors_failed += 1
            LOGGER.warning("audit anchor refused: %s", error)
            return None
        self.anchors_submitted += 1
        self._in_flight = _InFlight(batch, admitted.hash, time.monotonic())
        return bytes(admitted.hash)

    def on_commit(self, committed: CommittedBlock) -> None:
        """Confirm our batch when its AuditAnchored event commits; resubmit if it reverted.

        The events come decoded once with the block (`CommittedBlock.events`).
        """
        in_flight = self._in_flight
        events_of: dict[bytes, list[BlockEvent]] = {}
        for item in committed.events:
            events_of.setdefault(item.transaction_hash, []).append(item)
        for receipt in committed.receipts:
            if (in_flight is not None and receipt.transaction_hash == in_flight.transaction_hash
                    and receipt.status != 1):
                LOGGER.warning("audit anchor reverted: %s", receipt.revert_reason)
                self.anchors_failed += 1
                self._in_flight = None
                self.reconcile()
            for item in events_of.get(receipt.transaction_hash, ()):
                event = item.event
                if (item.address == self.ledger.contracts.authorization
                        and isinstance(event, bindings.AuditAnchored)
                        and event.node_id == self.node_key):
                    self._confirm(event, committed.block.height, receipt.transaction_hash)
        self.schedule()

    def _confirm(self, event: bindings.AuditAnchored, height: int,
                 transaction_hash: bytes) -> None:
        in_flight = self._in_flight
        if in_flight is not None and in_flight.batch.batch_seq == event.batch_seq:
            self._in_flight = None
            if in_flight.batch.merkle_root == event.merkle_root:
                self.log.confirm(AuditBatch(event.batch_seq, in_flight.batch.first_sequence,
                                            event.entry_count, event.merkle_root, height,
                                            transaction_hash))
                if self.log.pending >= MAX_BATCH_ENTRIES:
                    self.anchor_now()  # a full batch waits no timer: the backlog cannot grow
                return
        self.reconcile()
