"""A wiped node gets its payloads back: every record this node must hold, fetched and checked.

After a node lost its disk it syncs the chain from its peers; the chain says which records exist,
where each was published and under which hash. `rebuild_payloads` walks the record index, picks
the records this node must hold (`chain.payload_backup.payload_holders` of a node of their
origin city), and fetches each missing payload from the other holders over the peer channel
(`RESTORE_PAYLOADS`, answered only between nodes that share the duty) — the origin city's nodes
first, then the designated backups — keeping only bytes that hash to the on-chain hash. It runs
in the background after start-up and yields to the event loop between batches.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from chain.ledger import Ledger
from chain.payload_backup import backups_of_city, payload_holders
from chain.presets import Preset
from chain.query.report import PayloadStatus, check_bytes
from nodes.query.payloads import restore_from
from nodes.runtime.peer_channels import PeerChannels
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


async def rebuild_payloads(ledger: Ledger, store: RecordStore, channels: PeerChannels,
                           preset: Preset, node_id: str) -> RebuildReport:
    """Fetch every payload this node must hold and does not; returns what happened."""
    cities = cities_held(preset, node_id)
    held = 0
    missing = []
    for entry in ledger.stored_records(MAX_RECORDS_SCANNED):
        if entry.origin_city not in cities:
            continue
        held += 1
        if not store.has_payload(entry.payload_hash):
            missing.append(entry)
    restored = 0
    for start in range(0, len(missing), REBUILD_BATCH_RECORDS):
        batch = missing[start:start + REBUILD_BATCH_RECORDS]
        by_city: dict[int, list[bytes]] = {}
        for entry in batch:
            hashes = by_city.setdefault(entry.origin_city, [])
            if entry.payload_hash not in hashes:
                hashes.append(entry.payload_hash)
        for city, hashes in by_city.items():
            restored += await _restore_city(store, channels, preset, node_id, city, hashes)
        await asyncio.sleep(0)
    if missing:
        LOGGER.info("%s restored %d of %d missing payloads", node_id, restored, len(missing))
    return RebuildReport(held, len(missing), restored)


async def _restore_city(store: RecordStore, channels: PeerChannels, preset: Preset,
                        node_id: str, city: int, hashes: list[bytes]) -> int:
    """Ask the city's other nodes, then its backups, for the payloads; save verified bytes."""
    partners = [node.node_id for node in preset.nodes
                if node.city.number == city and node.node_id != node_id]
    partners += [backup for backup in backups_of_city(preset, city) if backup != node_id]
    wanted = list(hashes)
    restored = 0
    for peer in partners:
        if not wanted or peer not in channels.links:
            continue
        still = []
        for payload_hash, payload in zip(wanted, await restore_from(channels, peer, wanted),
                                         strict=True):
            checked = check_bytes(payload_hash, payload, peer) if payload else None
            if checked is not None and checked.status is PayloadStatus.VERIFIED:
                store.save_payload(payload_hash, payload)
                restored += 1
            else:
                still.append(payload_hash)
        wanted = still
    return restored
