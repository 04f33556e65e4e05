"""A wiped node gets its payloads back: every record this node must hold, fetched and checked.

After a node lost its disk it syncs the chain from its peers; the chain says which records exist,
where each was published and under which hash. `rebuild_payloads` walks the record index, picks
the records this node must hold (`chain.payload_backup.payload_holders` of a node of their
origin city), and fetches each missing payload from the other holders — the origin city's nodes
first, then the designated backup — keeping only bytes that hash to the on-chain hash. It runs in
the background after start-up and yields to the event loop between batches.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from chain.codec import decode_record_entry
from chain.indexer import RECORD_PREFIX
from chain.ledger import Ledger
from chain.payload_backup import payload_holders
from chain.presets import Preset
from nodes.query.payloads import PayloadFetcher, PayloadStatus
from nodes.storage.records import RecordStore

LOGGER = logging.getLogger(__name__)
REBUILD_BATCH_RECORDS = 256  # payloads asked for in one round of fetches
MAX_RECORDS_SCANNED = 1 << 30


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did: records this node must hold, missing ones, and those restored."""

    held_by_this_node: int
    missing: int
    restored: int


def cities_held(preset: Preset, node_id: str) -> frozenset[int]:
    """The city numbers whose payloads this node must hold (its own and those it backs up)."""
    return frozenset(node.city.number for node in preset.nodes
                     if node_id in payload_holders(preset, node.node_id))


async def rebuild_payloads(ledger: Ledger, store: RecordStore, fetcher: PayloadFetcher,
                           preset: Preset, node_id: str, now_ms: int) -> RebuildReport:
    """Fetch every payload this node must hold and does not; returns what happened."""
    cities = cities_held(preset, node_id)
    held = 0
    missing = []
    for _, value in ledger.store.scan_index(RECORD_PREFIX, MAX_RECORDS_SCANNED):
        entry = decode_record_entry(value)
        if entry.origin_city not in cities:
            continue
        held += 1
        if not store.has_payload(entry.payload_hash):
            missing.append(entry)
    restored = 0
    for start in range(0, len(missing), REBUILD_BATCH_RECORDS):
        batch = missing[start:start + REBUILD_BATCH_RECORDS]
        results = await fetcher.resolve(batch, now_ms)
        for payload_hash, result in results.items():
            if result.status is PayloadStatus.VERIFIED and result.payload is not None:
                store.save_payload(payload_hash, result.payload)
                restored += 1
        await asyncio.sleep(0)
    if missing:
        LOGGER.info("%s restored %d of %d missing payloads", node_id, restored, len(missing))
    return RebuildReport(held, len(missing), restored)
