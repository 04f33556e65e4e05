"""Payloads a partner pushes (`STORE_PAYLOADS`): kept only for a record that refers to them.

A node that shares another's payload duty (a node of its city, or the designated backup of a
single-node city: `chain.payload_backup`) receives each new payload from the node that took
the publish or the upload (`PayloadFetcher.replicate`). The partner is authenticated, but that
alone must not let it fill this node's disk with bytes no record refers to. So each pushed
item names its record (`record id || payload`) and:

- **the record is committed** here: the payload is stored if it hashes to the record's
  payload hash (an upload of a record published without its payload, or a push that arrived
  after the block); otherwise it is refused;
- **the record is not committed yet** — the usual case: the origin pushes right after it
  queued the transaction, so the push may arrive before the transaction's gossip, and always
  before its block — the payload is **held in memory**, bounded (`HoldLimits`: count, bytes,
  time), and stored when a committed block publishes (or corrects to) a record with its hash
  (`on_commit`). A held payload no block refers to within `hold_s` is dropped (counted as
  expired); a push over the quota, too large, or malformed is refused.

Refusals are counted and logged (at most one line per second, with how many were refused since
the last line); nothing refused or expired reaches the record store. A held payload lives only
in memory: if the node restarts before the block, the payload is not kept here (the origin's
nodes still hold it, and a wiped node restores from its partners, `payload_rebuild`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chain.crypto import keccak
from chain.indexer import BlockEvent
from chain.records import MAX_PAYLOAD_BYTES
from contracts import bindings
from nodes.runtime.frames import decode_frames, encode_frames
from nodes.storage.records import RecordStore

LOGGER = logging.getLogger(__name__)
RECORD_ID_BYTES = 32
LOG_INTERVAL_S = 1.0

CommittedHash = Callable[[bytes], bytes | None]
"""A committed record's payload hash by record id (None when no such record is committed)."""


@dataclass(frozen=True, slots=True)
class HoldLimits:
    """What a node holds of pushed payloads whose record is not committed yet."""

    max_payloads: int = 4_096
    max_bytes: int = 32 * 1024 * 1024
    hold_s: float = 600.0


DEFAULT_HOLD_LIMITS = HoldLimits()


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What became of one push."""

    stored: int
    held: int
    refused: int


def encode_pushed(items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A `STORE_PAYLOADS` body: one frame per (record id, payload)."""
    return encode_frames(record_id + payload for record_id, payload in items)


def decode_pushed(body: bytes) -> list[tuple[bytes, bytes]]:
    """The (record id, payload) items of a `STORE_PAYLOADS` body; ValueError if malformed."""
    items = []
    for frame in decode_frames(body):
        if len(frame) < RECORD_ID_BYTES:
            raise ValueError(f"a pushed payload frame of {len(frame)} bytes names no record")
        items.append((frame[:RECORD_ID_BYTES], frame[RECORD_ID_BYTES:]))
    return items


def written_payload_hashes(events: Sequence[BlockEvent]) -> set[bytes]:
    """The payload hashes of the record versions a committed block wrote."""
    return {item.event.payload_hash for item in events
            if isinstance(item.event, bindings.RecordPublished | bindings.RecordCorrected)}


class PayloadIntake:
    """The receiving side of payload replication (see the module docstring)."""

    def __init__(self, node_id: str, store: RecordStore, committed_hash: CommittedHash,
                 limits: HoldLimits = DEFAULT_HOLD_LIMITS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node_id = node_id
        self.store = store
        self.committed_hash = committed_hash
        self.limits = limits
        self.clock = clock
        self.held: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()  # hash -> (due, bytes)
        self.held_bytes = 0
        self.stored = 0
        self.refused = 0
        self.expired = 0
        self._unlogged = 0
        self._logged_at = float("-inf")

    def receive(self, peer: str, items: Sequence[tuple[bytes, bytes]]) -> IntakeResult:
        """Store, hold or refuse each pushed (record id, payload) of `peer`."""
        now = self.clock()
        self._expire(now)
        stored = held = refused = 0
        reasons: list[str] = []
        for record_id, payload in items:
            digest = keccak(payload)
            committed = self.committed_hash(record_id)
            if len(payload) > MAX_PAYLOAD_BYTES:
                reasons.append(f"a payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
            elif committed is not None and committed != digest:
                reasons.append(f"record 0x{record_id.hex()} holds another payload hash")
            elif committed is not None:
                self._save(digest, payload)
                stored += 1
                continue
            elif digest in self.held:
                held += 1
                continue
            elif (len(self.held) >= self.limits.max_payloads
                  or self.held_bytes + len(payload) > self.limits.max_bytes):
                reasons.append("the payloads held for records not yet committed reached "
                               f"their quota ({self.limits.max_payloads} payloads, "
                               f"{self.limits.max_bytes} bytes)")
            else:
                self.held[digest] = (now + self.limits.hold_s, payload)
                self.held_bytes += len(payload)
                held += 1
                continue
            refused += 1
        if refused:
            self._refused(peer, refused, reasons[-1], now)
        return IntakeResult(stored, held, refused)

    def on_commit(self, events: Sequence[BlockEvent]) -> int:
        """Store the held payloads a committed block's records refer to; how many."""
        self._expire(self.clock())
        promoted = 0
        for digest in written_payload_hashes(events):
            entry = self.held.pop(digest, None)
            if entry is not None:
                self.held_bytes -= len(entry[1])
                self._save(digest, entry[1])
                promoted += 1
        return promoted

    def _save(self, digest: bytes, payload: bytes) -> None:
        self.store.save_payload(digest, payload)
        self.stored += 1

    def _expire(self, now: float) -> None:
        while self.held:
            digest, (due, payload) = next(iter(self.held.items()))
            if due > now:
                return
            del self.held[digest]
            self.held_bytes -= len(payload)
            self.expired += 1

    def refuse_malformed(self, peer: str, reason: str) -> None:
        """Count and log a push whose body could not be read."""
        self._refused(peer, 1, reason, self.clock())

    def _refused(self, peer: str, count: int, reason: str, now: float) -> None:
        self.refused += count
        self._unlogged += count
        if now - self._logged_at >= LOG_INTERVAL_S:
            LOGGER.warning("%s refused %d pushed payload(s) from %s: %s", self.node_id,
                           self._unlogged, peer, reason)
            self._unlogged = 0
            self._logged_at = now
