"""The audit trail (查询留痕) as values: entries, batches, Merkle proofs and their checks.

One entry per served query. A node's entries are numbered 1, 2, ...; consecutive entries are
anchored under one Merkle root (`AuditBatch`), whose leaves are the canonical JSON bytes of the
entries (sorted keys, no white space) and whose root is `chain.merkle.merkle_root` of them. An
enterprise checks that an entry is part of what the node committed to with `check_proof`.

`AuditTrail` holds a node's entries and confirmed batches in memory and answers proposals and
proofs; the shell (`nodes.query.audit`) makes it durable and anchors its batches on chain.
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from chain.errors import NotAnchored, NotFound
from chain.indexer import ANCHOR_PREFIX
from chain.ledger import Ledger
from chain.merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof

MAX_BATCH_ENTRIES = 1_024  # leaves per anchored root: a proof stays at most 10 hashes long
ANCHOR_INTERVAL_S = 1.0  # how often the shell anchors pending entries (named in messages)
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


class AuditTrail:
    """A node's audit entries and confirmed batches in memory (bounded by `MAX_ENTRIES_KEPT`)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.entries: dict[int, AuditEntry] = {}
        self.batches: list[AuditBatch] = []
        self.last_sequence = 0
        self._by_enterprise: dict[str, deque[int]] = {}

    def add(self, entry: AuditEntry) -> None:
        """Hold an entry (replayed or new)."""
        self.entries[entry.sequence] = entry
        self.last_sequence = max(self.last_sequence, entry.sequence)
        self._by_enterprise.setdefault(entry.enterprise, deque()).append(entry.sequence)

    def add_batch(self, batch: AuditBatch) -> None:
        """Hold a confirmed batch (older or repeated batch numbers are ignored)."""
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
        self.add(entry)
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
            raise ValueError(f"audit batch {batch.batch_seq} starts at {batch.first_sequence}, "
                             f"expected {self.anchored_through + 1}")
        self.add_batch(batch)
        # A wiped node learns from the chain that entries up to here exist (their bytes are
        # gone with its disk): new entries continue after them, never reusing an anchored id.
        self.last_sequence = max(self.last_sequence, batch.last_sequence)

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


def batch_to_json(batch: AuditBatch) -> dict[str, Any]:
    return {"batch_seq": batch.batch_seq, "first_sequence": batch.first_sequence,
            "count": batch.count, "merkle_root": batch.merkle_root.hex(),
            "block_height": batch.block_height,
            "transaction_hash": batch.transaction_hash.hex() if batch.transaction_hash else None}


def batch_from_json(document: dict[str, Any]) -> AuditBatch:
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


def proof_to_json(proof: AuditProof) -> dict[str, Any]:
    """An inclusion proof as JSON: entry, leaf bytes, batch and the sibling path."""
    batch = proof.batch
    return {
        "entry_id": proof.entry.entry_id,
        "entry": entry_to_json(proof.entry),
        "leaf": "0x" + proof.leaf.hex(),
        "batch": {"node_id": proof.entry.node_id, **batch_to_json(batch),
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
