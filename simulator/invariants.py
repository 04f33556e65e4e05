"""Invariants checked while a simulation runs; the first violation stops it.

- agreement: no two honest nodes commit different blocks at one height;
- state roots: honest nodes have the same state root after each height;
- validity: every block an honest node commits carries a commit certificate of a quorum of
  validators for exactly that block, extends the node's previous head, and holds only
  transactions a client signed and submitted (nothing a flooder invented);
- no committed record lost: every record whose publication committed is in the index of every
  honest node that has reached that height, also after crashes and restarts;
- audit: every query a node served has its entry in that node's (durable) audit log.

Honest means: never given a byzantine behaviour during the run. The checker only reads what
the nodes expose; it never changes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chain.blocks import Block
from chain.consensus.certificate import decode_certificate, verify_certificate
from chain.consensus.errors import CertificateError, CodecError
from chain.consensus.validators import ValidatorSet
from chain.crypto import keccak
from chain.engine.tables import KEYS
from chain.indexer import RECORD_PREFIX
from simulator.host import SimulatedHost
from simulator.queries import audit_entry


@dataclass(frozen=True, slots=True)
class Violation:
    """What broke, where and when."""

    invariant: str
    detail: str
    time_ms: float
    height: int = 0


class InvariantViolation(Exception):
    """Raised to stop the run at the first violation."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(f"{violation.invariant}: {violation.detail}")
        self.violation = violation


@dataclass(frozen=True, slots=True)
class CanonicalBlock:
    """The first honest commit seen at a height."""

    block_hash: bytes
    state_root: bytes
    node_id: str
    time_ms: float


class InvariantChecker:
    """Watches commits, records and queries; raises InvariantViolation."""

    def __init__(self, validator_set: ValidatorSet) -> None:
        self.validator_set = validator_set
        self.canonical: dict[int, CanonicalBlock] = {}
        self.submitted: set[bytes] = set()
        self.records: dict[bytes, int] = {}
        self.served: list[tuple[str, int, bytes]] = []
        self.checks = 0
        self._certified: set[bytes] = set()

    def fail(self, invariant: str, detail: str, time_ms: float, height: int = 0) -> None:
        """Stop the run."""
        raise InvariantViolation(Violation(invariant, detail, time_ms, height))

    def on_commit(self, node_id: str, block: Block, state_root: bytes, previous_hash: bytes,
                  time_ms: float) -> None:
        """An honest node appended `block` on top of `previous_hash`."""
        self.checks += 1
        height = block.height
        if block.header.parent_hash != previous_hash:
            self.fail("validity", f"{node_id} committed height {height} on a parent that is "
                      "not its head", time_ms, height)
        self._check_certificate(node_id, block, time_ms)
        for raw in block.transactions:
            if keccak(raw) not in self.submitted:
                self.fail("validity", f"{node_id} committed a transaction no client submitted "
                          f"at height {height}", time_ms, height)
        known = self.canonical.get(height)
        if known is None:
            self.canonical[height] = CanonicalBlock(block.hash, state_root, node_id, time_ms)
            return
        if known.block_hash != block.hash:
            self.fail("agreement", f"height {height}: {known.node_id} committed "
                      f"0x{known.block_hash.hex()[:16]}, {node_id} committed "
                      f"0x{block.hash.hex()[:16]}", time_ms, height)
        if known.state_root != state_root:
            self.fail("state_root", f"height {height}: {known.node_id} has state root "
                      f"0x{known.state_root.hex()[:16]}, {node_id} has "
                      f"0x{state_root.hex()[:16]}", time_ms, height)

    def _check_certificate(self, node_id: str, block: Block, time_ms: float) -> None:
        if block.hash in self._certified:
            return
        try:
            certificate = decode_certificate(block.certificate)
            verify_certificate(certificate, self.validator_set)
        except (CertificateError, CodecError) as error:
            self.fail("validity", f"{node_id} committed height {block.height} without a valid "
                      f"certificate: {error}", time_ms, block.height)
            return
        if certificate.block_hash != block.hash or certificate.height != block.height:
            self.fail("validity", f"{node_id}: certificate of height {block.height} is for "
                      "another block", time_ms, block.height)
        self._certified.add(block.hash)

    def on_record_committed(self, record_id: bytes, height: int) -> None:
        """A record's publication committed at `height`."""
        self.records.setdefault(record_id, height)

    def check_records(self, nodes: Iterable[SimulatedHost], time_ms: float) -> None:
        """Every committed record is indexed by every honest node that reached its height."""
        for node in nodes:
            if node.ledger is None:
                continue
            head = node.ledger.head.height
            index, rows = node.store.index, node.store.rows
            in_tables = node.ledger.records_in_tables
            for record_id, height in self.records.items():
                self.checks += 1
                held = (KEYS.record(record_id) in rows if in_tables
                        else RECORD_PREFIX + record_id in index)
                if height <= head and not held:
                    self.fail("record_retained", f"{node.node_id} at height {head} lost record "
                              f"0x{record_id.hex()[:16]} committed at {height}", time_ms, height)

    def on_query_served(self, node: SimulatedHost, position: int, leaf: bytes,
                        time_ms: float) -> None:
        """A served query must already be in the serving node's audit log."""
        self.checks += 1
        self.served.append((node.node_id, position, leaf))
        if audit_entry(node, position) != leaf:
            self.fail("audit", f"{node.node_id} served a query without its audit entry",
                      time_ms)

    def check_audit(self, nodes: dict[str, SimulatedHost], time_ms: float) -> None:
        """Every served query's entry is still in its node's log (crashes included)."""
        for node_id, position, leaf in self.served:
            self.checks += 1
            if audit_entry(nodes[node_id], position) != leaf:
                self.fail("audit", f"{node_id} lost audit entry {position}", time_ms)
