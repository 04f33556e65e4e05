"""The audit trail (查询留痕): one entry per served query, batched and anchored on chain.

`AuditLog` keeps a node's entries in order (sequence 1, 2, ...), groups them into batches and
answers inclusion proofs. A batch's leaves are the canonical JSON bytes of its entries (sorted
keys, no white space), its root `chain.merkle.merkle_root` of them; `AuditAnchorer` submits the
root in an `Authorization.anchor_audit` transaction signed with the node operator's key and
confirms the batch when the `AuditAnchored` event commits. An enterprise can then check that an
entry is part of what the node committed to, with `chain.merkle.verify_merkle_proof`.

Durability: entries and confirmed batches are appended as JSON lines to `audit.jsonl` in the
node's data directory and flushed on every write (they survive a process crash; a power loss
may drop the last unanchored second). On restart the log is read back and reconciled with the
anchors on chain. At most `MAX_ENTRIES_KEPT` entries stay in memory: beyond that the oldest
anchored batches leave memory (the file and the chain keep them).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from chain.crypto import PrivateKey
from chain.errors import NotAnchored, NotFound, YrdError
from chain.indexer import ANCHOR_PREFIX, BlockEvent
from chain.ledger import CommittedBlock, Ledger
from chain.merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof
from chain.wallet import sign_legacy
from contracts import bindings

LOGGER = logging.getLogger(__name__)
MAX_BATCH_ENTRIES = 1_024  # leaves per anchored root: a proof stays at most 10 hashes long
ANCHOR_INTERVAL_S = 1.0  # how often pending entries are anchored
ANCHOR_TIMEOUT_S = 20.0  # an anchor not committed by then is submitted again
ANCHOR_GAS = 500_000  # anchor_audit writes three storage slots
MAX_ENTRIES_KEPT = 1_000_000  # entries held in memory (about 400 MB at most)
NODE_ID_BYTES = 32


def node_id_bytes32(node_id: str) -> bytes:
    """A node id as the contract's bytes32: UTF-8, left-aligned, zero-padded."""
    raw = node_id.encode("utf-8")
    if len(raw) > NODE_ID_BYTES:
        raise ValueError(f"node id {node_id!r} is longer than {NODE_ID_BYTES} bytes")
    return raw.ljust(NODE_ID_BYTES, b"\0")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One served query: who asked which node about which enterprise, and when.

    request_hash: keccak of the signed request text, so the querier can match its own request.
    records: how many record versions the report held.
    """

    node_id: str
    sequence: int
    time_ms: int
    enterprise: str
    querier: str
    querier_name: str
    querier_city: str
    request_hash: str
    records: int

    @property
    def entry_id(self) -> str:
        """The entry's public id, `<node id>.<sequence>`."""
        return f"{self.node_id}.{self.sequence}"


def entry_to_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as a JSON object (field by field: `asdict` is several times slower)."""
    return {"node_id": entry.node_id, "sequence": entry.sequence, "time_ms": entry.time_ms,
            "enterprise": entry.enterprise, "querier": entry.querier,
            "querier_name": entry.querier_name, "querier_city": entry.querier_city,
            "request_hash": entry.request_hash, "records": entry.records}


def encode_entry(entry: AuditEntry) -> bytes:
    """The canonical bytes of an entry: the Merkle leaf."""
    return json.dumps(entry_to_json(entry), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def decode_entry(document: dict[str, Any]) -> AuditEntry:
    """An entry from its JSON object; KeyError or TypeError if it is not one."""
    return AuditEntry(**{name: document[name] for name in AuditEntry.__dataclass_fields__})


def parse_entry_id(text: str) -> tuple[str, int]:
    """(node id, sequence) of `<node id>.<sequence>`; NotFound if it is not of that form."""
    node_id, _, sequence = text.rpartition(".")
    if not node_id or not sequence.isdigit() or len(sequence) > 18:
        raise NotFound(f"audit entry ids look like 'hangzhou-1.42', got {text[:80]!r}",
                       field="entry")
    return node_id, int(sequence)


@dataclass(frozen=True, slots=True)
class AuditBatch:
    """Consecutive entries anchored under one Merkle root."""

    batch_seq: int
    first_sequence: int
    count: int
    merkle_root: bytes
    block_height: int | None = None
    transaction_hash: bytes | None = None

    @property
    def last_sequence(self) -> int:
        """The batch's last entry."""
        return self.first_sequence + self.count - 1


@dataclass(frozen=True, slots=True)
class AuditProof:
    """An entry, its leaf bytes, the batch anchoring it and the path to the batch's root."""

    entry: AuditEntry
    leaf: bytes
    batch: AuditBatch
    proof: MerkleProof


class AuditLog:
    """A node's audit entries and anchored batches, persisted as JSON lines when given a path."""

    def __init__(self, node_id: str, path: Path | None = None) -> None:
        self.node_id = node_id
        self.path = path
        self.entries: dict[int, AuditEntry] = {}
        self.batches: list[AuditBatch] = []
        self.last_sequence = 0
        self._by_enterprise: dict[str, deque[int]] = {}
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                self._load(path)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def _load(self, path: Path) -> None:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    document = json.loads(line)
                    if "entry" in document:
                        self._add(decode_entry(document["entry"]))
                    elif "batch" in document:
                        self._add_batch(_batch_from_json(document["batch"]))
                except (ValueError, KeyError, TypeError) as error:
                    LOGGER.warning("%s line %d unreadable, skipped: %s", path, number, error)

    def _write(self, document: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _add(self, entry: AuditEntry) -> None:
        self.entries[entry.sequence] = entry
        self.last_sequence = max(self.last_sequence, entry.sequence)
        self._by_enterprise.setdefault(entry.enterprise, deque()).append(entry.sequence)

    def _add_batch(self, batch: AuditBatch) -> None:
        if self.batches and batch.batch_seq <= self.batches[-1].batch_seq:
            return
        self.batches.append(batch)
        self._evict()

    def _evict(self) -> None:
        while len(self.entries) > MAX_ENTRIES_KEPT and self.batches:
            first_kept = min(self.entries)
            batch = self.batches[bisect.bisect_right(
                [b.first_sequence for b in self.batches], first_kept) - 1]
            if batch.last_sequence < first_kept:
                break
            for sequence in range(first_kept, batch.last_sequence + 1):
                self.entries.pop(sequence, None)

    def append(self, time_ms: int, enterprise: str, querier: str, querier_name: str,
               querier_city: str, request_hash: str, records: int) -> AuditEntry:
        """Record a served query; returns its entry."""
        entry = AuditEntry(self.node_id, self.last_sequence + 1, time_ms, enterprise, querier,
                           querier_name, querier_city, request_hash, records)
        self._add(entry)
        self._write({"entry": entry_to_json(entry)})
        return entry

    @property
    def anchored_through(self) -> int:
        """The last sequence covered by a confirmed batch (0 before the first)."""
        return self.batches[-1].last_sequence if self.batches else 0

    @property
    def pending(self) -> int:
        """Entries not yet in a confirmed batch."""
        return self.last_sequence - self.anchored_through

    def entries_of(self, enterprise: str, limit: int) -> list[AuditEntry]:
        """The newest `limit` entries about an enterprise, newest first."""
        sequences = self._by_enterprise.get(enterprise, deque())
        while sequences and sequences[0] not in self.entries:
            sequences.popleft()
        found: list[AuditEntry] = []
        for sequence in reversed(sequences):
            if len(found) >= limit:
                break
            entry = self.entries.get(sequence)
            if entry is not None:
                found.append(entry)
        return found

    def batch_of(self, sequence: int) -> AuditBatch | None:
        """The confirmed batch holding an entry, or None while it is pending."""
        if sequence > self.anchored_through or sequence < 1:
            return None
        firsts = [batch.first_sequence for batch in self.batches]
        return self.batches[bisect.bisect_right(firsts, sequence) - 1]

    def propose(self, batch_seq: int) -> AuditBatch | None:
        """The next batch to anchor (no block yet), or None when nothing is pending."""
        if not self.pending:
            return None
        first = self.anchored_through + 1
        count = min(self.pending, MAX_BATCH_ENTRIES)
        leaves = [encode_entry(self.entries[s]) for s in range(first, first + count)]
        return AuditBatch(batch_seq, first, count, merkle_root(leaves))

    def confirm(self, batch: AuditBatch) -> None:
        """Record an anchored batch (it must follow the last confirmed one)."""
        if batch.first_sequence != self.anchored_through + 1:
            LOGGER.warning("audit batch %d starts at %d, expected %d; ignored", batch.batch_seq,
                           batch.first_sequence, self.anchored_through + 1)
            return
        self._add_batch(batch)
        # A wiped node learns from the chain that entries up to here exist (their bytes are
        # gone with its disk): new entries continue after them, never reusing an anchored id.
        self.last_sequence = max(self.last_sequence, batch.last_sequence)
        self._write({"batch": _batch_to_json(batch)})

    def proof(self, sequence: int) -> AuditProof:
        """The inclusion proof of an entry; NotFound or NotAnchored (409) if there is none."""
        entry = self.entries.get(sequence)
        if entry is None:
            raise NotFound(f"node {self.node_id} holds no audit entry {sequence}", field="entry")
        batch = self.batch_of(sequence)
        if batch is None:
            raise NotAnchored(f"audit entry {entry.entry_id} is not anchored yet; batches are "
                              f"anchored every {ANCHOR_INTERVAL_S:g} s", field="entry")
        held = [self.entries.get(s) for s in range(batch.first_sequence, batch.last_sequence + 1)]
        if any(item is None for item in held):
            raise NotFound(f"node {self.node_id} no longer holds every entry of batch "
                           f"{batch.batch_seq} (its disk was wiped); the anchored root remains "
                           "on chain", field="entry")
        leaves = [encode_entry(item) for item in held if item is not None]
        return AuditProof(entry, leaves[sequence - batch.first_sequence], batch,
                          merkle_proof(leaves, sequence - batch.first_sequence))


def _batch_to_json(batch: AuditBatch) -> dict[str, Any]:
    return {"batch_seq": batch.batch_seq, "first_sequence": batch.first_sequence,
            "count": batch.count, "merkle_root": batch.merkle_root.hex(),
            "block_height": batch.block_height,
            "transaction_hash": batch.transaction_hash.hex() if batch.transaction_hash else None}


def _batch_from_json(document: dict[str, Any]) -> AuditBatch:
    transaction = document.get("transaction_hash")
    return AuditBatch(int(document["batch_seq"]), int(document["first_sequence"]),
                      int(document["count"]), bytes.fromhex(document["merkle_root"]),
                      document.get("block_height"),
                      bytes.fromhex(transaction) if transaction else None)


def chain_anchors(ledger: Ledger, node_id: str) -> list[tuple[int, bytes, int]]:
    """(batch seq, root, entry count) of every batch the chain holds for a node, in order."""
    prefix = ANCHOR_PREFIX + node_id_bytes32(node_id)
    return [(int.from_bytes(key[len(prefix):], "big"), value[:32],
             int.from_bytes(value[32:], "big"))
            for key, value in ledger.store.scan_index(prefix, 1 << 30)]


def anchored_root(ledger: Ledger, node_id: str, batch_seq: int) -> bytes | None:
    """The root the chain holds for one batch of a node, or None."""
    value = ledger.store.load_index(ANCHOR_PREFIX + node_id_bytes32(node_id)
                                    + batch_seq.to_bytes(8, "big"))
    return value[:32] if value is not None else None


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
                return
        self.reconcile()


def proof_to_json(proof: AuditProof) -> dict[str, Any]:
    """An inclusion proof as JSON: entry, leaf bytes, batch and the sibling path."""
    batch = proof.batch
    return {
        "entry_id": proof.entry.entry_id,
        "entry": entry_to_json(proof.entry),
        "leaf": "0x" + proof.leaf.hex(),
        "batch": {"node_id": proof.entry.node_id, **_batch_to_json(batch),
                  "merkle_root": "0x" + batch.merkle_root.hex(),
                  "transaction_hash": "0x" + batch.transaction_hash.hex()
                  if batch.transaction_hash else None},
        "proof": {"index": proof.proof.index, "leaf_count": proof.proof.leaf_count,
                  "path": [{"sibling": "0x" + sibling.hex(),
                            "side": "left" if is_left else "right"}
                           for sibling, is_left in proof.proof.path]},
    }


def proof_from_json(document: dict[str, Any]) -> AuditProof:
    """The proof in a JSON answer; ValueError, KeyError or TypeError if it is not one."""
    batch = document["batch"]
    path = tuple((bytes.fromhex(step["sibling"][2:]), step["side"] == "left")
                 for step in document["proof"]["path"])
    transaction = batch.get("transaction_hash")
    return AuditProof(
        entry=decode_entry(document["entry"]),
        leaf=bytes.fromhex(document["leaf"][2:]),
        batch=AuditBatch(int(batch["batch_seq"]), int(batch["first_sequence"]),
                         int(batch["count"]), bytes.fromhex(batch["merkle_root"][2:]),
                         batch.get("block_height"),
                         bytes.fromhex(transaction[2:]) if transaction else None),
        proof=MerkleProof(int(document["proof"]["index"]), int(document["proof"]["leaf_count"]),
                          path),
    )


def check_proof(proof: AuditProof, anchored: bytes | None) -> bool:
    """Whether the leaf is the entry, the path leads to the batch root, and the chain holds it."""
    return (anchored is not None and anchored == proof.batch.merkle_root
            and proof.leaf == encode_entry(proof.entry)
            and verify_merkle_proof(proof.leaf, proof.proof, anchored))
