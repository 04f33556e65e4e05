"""Record payloads for reports: from this node's record store or from the origin city's nodes.

Every payload is checked against the hash on chain wherever it comes from, the node's own disk
included: bytes that hash to something else are reported as tampered and never served. A payload
this node does not hold is fetched over the authenticated peer channel
(`nodes.runtime.peer_channels`) from the nodes of the record's origin city — one batched
`PAYLOADS` request per origin node per report — trying each in turn until one serves bytes that
match, then from the city's designated backup nodes (`chain.payload_backup`: a copy in another
city when the origin city has one node). A wiped node restores what it must hold with
`RESTORE_PAYLOADS`, which its replication partners answer (`restore_from`).

Each peer request carries the querier's own signed request (`ForwardedRequest`): the peer
answers only an authenticated node of the consortium acting for a querier whose signature,
role and grant it checks itself (`nodes.api.peer_reads`). A node key alone fetches nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from chain.codec import RecordEntry
from chain.payload_backup import backups_of_city, payload_holders
from chain.presets import Preset
from chain.query.report import PayloadResult, PayloadStatus, check_bytes, parse_payload
from nodes.query.payload_intake import encode_pushed
from nodes.runtime.channel import PeerMethod, PeerRefused, PeerUnavailable
from nodes.runtime.frames import decode_frames, encode_frames
from nodes.runtime.peer_channels import PeerChannels
from nodes.storage.records import RecordStore

LOGGER = logging.getLogger(__name__)
PEER_FETCH_TIMEOUT_S = 3.0
MAX_EMBEDDED_VERDICTS = 100_000  # payloads whose strict-JSON verdict is remembered
MAX_HASHES_PER_FETCH = 1_024  # one report never holds more than this many versions per city
HASH_BYTES = 32
FOUND = b"\x01"
MISSING = b"\x00"


def encode_hashes(hashes: Iterable[bytes]) -> bytes:
    """The body of a fetch request: 32-byte hashes back to back."""
    return b"".join(hashes)


def decode_hashes(body: bytes) -> list[bytes]:
    """The hashes of a fetch request; ValueError if the body is not whole hashes or too long."""
    if len(body) % HASH_BYTES or len(body) > HASH_BYTES * MAX_HASHES_PER_FETCH:
        raise ValueError(f"body must be at most {MAX_HASHES_PER_FETCH} 32-byte hashes")
    return [body[i:i + HASH_BYTES] for i in range(0, len(body), HASH_BYTES)]


def answer_fetch(store: RecordStore, hashes: list[bytes]) -> bytes:
    """Frames answering a fetch: 0x01 + payload for each held hash, 0x00 for each missing."""
    return encode_frames(MISSING if payload is None else FOUND + payload
                         for payload in store.load_payloads(hashes))


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """An institution's signed request as its node forwards it to a peer.

    The peer recovers the signer from the same canonical text, with the forwarding node's id
    (authenticated by its certificate) as the node the request was addressed to.
    """

    target: str
    timestamp: str
    nonce: str
    signature: str

    def frames(self) -> list[bytes]:
        """The four leading frames of a peer request."""
        return [text.encode("utf-8") for text in (self.target, self.timestamp, self.nonce,
                                                  self.signature)]


def forwarded_from(target: str, headers: Mapping[str, str]) -> ForwardedRequest:
    """The forwardable part of a signed request (its target and three headers)."""
    return ForwardedRequest(target, headers.get("x-yrd-timestamp", ""),
                            headers.get("x-yrd-nonce", ""), headers.get("x-yrd-signature", ""))


def decode_forwarded(body: bytes, extra: int) -> tuple[ForwardedRequest, list[bytes]]:
    """A forwarded request and the `extra` frames after it; ValueError if malformed."""
    frames = decode_frames(body)
    if len(frames) != 4 + extra:
        raise ValueError(f"a peer request holds {4 + extra} frames, got {len(frames)}")
    texts = [frame.decode("utf-8") for frame in frames[:4]]
    return ForwardedRequest(*texts), frames[4:]


class PayloadFetcher:
    """Finds and checks the payloads a report needs."""

    def __init__(self, node_id: str, store: RecordStore, preset: Preset,
                 channels: PeerChannels) -> None:
        self.node_id = node_id
        self.store = store
        self.preset = preset
        self.channels = channels
        self.city = preset.node(node_id).city.number
        self._city_nodes: dict[int, list[str]] = {}
        self.remote_fetches = 0
        self.tampered = 0
        self.unavailable = 0

    async def close(self) -> None:
        """Nothing to close: the channels belong to the runtime."""

    def city_nodes(self, city_number: int) -> list[str]:
        """The other nodes of a city that this node can reach (computed once per city)."""
        found = self._city_nodes.get(city_number)
        if found is None:
            found = self._city_nodes[city_number] = [
                node.node_id for node in self.preset.nodes
                if node.city.number == city_number and node.node_id in self.channels.links]
        return found

    async def resolve(self, entries: list[RecordEntry], request: ForwardedRequest) -> dict[
            bytes, PayloadResult]:
        """The checked payload of each entry: from this node when it is of the record's origin
        city (one read for all), otherwise — or when it does not hold it — from the origin
        city's nodes (a copy held here as a backup counts as remote: the origin answers)."""
        results: dict[bytes, PayloadResult] = {}
        missing: dict[int, list[bytes]] = {}
        local = [entry.payload_hash for entry in entries if entry.origin_city == self.city]
        for payload_hash, payload in zip(local, self.store.load_payloads(local), strict=True):
            if payload is not None:
                results[payload_hash] = check_bytes(payload_hash, payload, self.node_id)
        for entry in entries:
            if entry.payload_hash not in results:
                hashes = missing.setdefault(entry.origin_city, [])
                if entry.payload_hash not in hashes:
                    hashes.append(entry.payload_hash)
        if missing:
            found = await asyncio.gather(*(self._from_city(city, hashes, request)
                                           for city, hashes in missing.items()))
            for city_results in found:
                results.update(city_results)
        for result in results.values():
            if result.status is PayloadStatus.TAMPERED:
                self.tampered += 1
            elif result.status is PayloadStatus.UNAVAILABLE:
                self.unavailable += 1
        return results

    async def _from_city(self, city: int, hashes: list[bytes], request: ForwardedRequest
                         ) -> dict[bytes, PayloadResult]:
        """Ask the city's nodes in turn. When one of them (or this node, if it is of the city)
        answered and none holds a payload, its publisher never uploaded it ("not_uploaded": a
        publish sent through JSON-RPC); when none answered, it is "unavailable"."""
        results: dict[bytes, PayloadResult] = {}
        wanted = list(hashes)
        answered = self.preset.node(self.node_id).city.number == city
        for peer in self.city_nodes(city):
            if not wanted:
                break
            peer_answered, answers = await self._fetch(peer, wanted, request)
            answered = answered or peer_answered
            still = []
            for payload_hash, payload in zip(wanted, answers, strict=True):
                if payload is None:
                    still.append(payload_hash)
                    continue
                checked = check_bytes(payload_hash, payload, peer)
                results[payload_hash] = checked
                if checked.status is not PayloadStatus.VERIFIED:
                    still.append(payload_hash)  # another node of the city may hold good bytes
            wanted = still
        # The designated backups (another city) only for payloads no node of the origin city
        # served at all; bytes the origin city served tampered stay flagged as tampered.
        wanted = [payload_hash for payload_hash in wanted if payload_hash not in results]
        for backup in backups_of_city(self.preset, city):
            if not wanted or backup not in self.channels.links:
                continue
            _, answers = await self._fetch(backup, wanted, request)
            still = []
            for payload_hash, payload in zip(wanted, answers, strict=True):
                backed = check_bytes(payload_hash, payload, backup) if payload else None
                if backed is not None and backed.status is PayloadStatus.VERIFIED:
                    results[payload_hash] = backed
                else:
                    still.append(payload_hash)
            wanted = still
        for payload_hash in wanted:
            results.setdefault(payload_hash, PayloadResult(
                PayloadStatus.NOT_UPLOADED, None, None,
                "payload not uploaded: the origin city's nodes answered that they do not hold "
                "it; it was published without its payload (e.g. through JSON-RPC), and its "
                "publisher can upload it with PUT /v1/records/{record_id}/payload")
                if answered else PayloadResult(
                PayloadStatus.UNAVAILABLE, None, None,
                "no node of the origin city answered in time"))
        return results

    async def _fetch(self, peer: str, hashes: list[bytes], request: ForwardedRequest
                     ) -> tuple[bool, list[bytes | None]]:
        """Whether the peer answered, and the payloads it holds (None where it does not)."""
        self.remote_fetches += 1
        body = encode_frames([*request.frames(), encode_hashes(hashes)])
        try:
            frames = decode_frames(await self.channels.request(
                peer, PeerMethod.PAYLOADS, body, PEER_FETCH_TIMEOUT_S))
        except (PeerUnavailable, PeerRefused, ValueError) as error:
            LOGGER.warning("payload fetch from %s failed: %s", peer, error)
            frames = []
        if len(frames) != len(hashes):
            return False, [None] * len(hashes)
        return True, [frame[1:] if frame[:1] == FOUND else None for frame in frames]

    async def ask(self, peer: str, method: PeerMethod, request: ForwardedRequest,
                  extra: Iterable[bytes]) -> bytes | None:
        """A forwarded request to a peer; its answer, None if unanswered, PeerRefused as is."""
        try:
            return await self.channels.request(
                peer, method, encode_frames([*request.frames(), *extra]), PEER_FETCH_TIMEOUT_S)
        except PeerUnavailable as error:
            LOGGER.warning("%s to %s failed: %s", method.name, peer, error)
            return None

    async def replicate(self, items: list[tuple[bytes, bytes]]) -> None:
        """Push new payloads, each with the id of the record that refers to it, to every other
        holder (chain.payload_backup): the other nodes of this node's city and, when it is the
        city's only node, its designated backup in another city (best effort). The holder
        keeps a payload only for its record (`nodes.query.payload_intake`)."""
        body = encode_pushed(items)
        holders = payload_holders(self.preset, self.node_id)
        for peer in [holder for holder in holders if holder in self.channels.links]:
            try:
                await self.channels.request(peer, PeerMethod.STORE_PAYLOADS, body)
            except (PeerUnavailable, PeerRefused) as error:
                LOGGER.warning("payload replication to %s failed: %s", peer, error)


class PayloadEmbedder:
    """Verified payloads go into a report as the JSON text they are, never parsed twice.

    A payload's bytes are checked once to be strict UTF-8 JSON (orjson) and then embedded
    unparsed (`orjson.Fragment`, written as is by `nodes.api.http_io.encode_json`). Bytes that
    are not strict JSON fall back to `chain.query.report.parse_payload`. The verdicts are
    cached by content (bounded).
    """

    def __init__(self, capacity: int = MAX_EMBEDDED_VERDICTS) -> None:
        self.capacity = capacity
        self._strict: OrderedDict[bytes, bool] = OrderedDict()

    def __call__(self, payload: bytes | None) -> Any:
        """What the report holds for a verified payload."""
        if payload is None:
            return None
        strict = self._strict.get(payload)
        if strict is None:
            try:
                orjson.loads(payload)
                strict = True
            except orjson.JSONDecodeError:
                strict = False
            self._strict[payload] = strict
            if len(self._strict) > self.capacity:
                self._strict.popitem(last=False)
        return orjson.Fragment(payload) if strict else parse_payload(payload)


async def restore_from(channels: PeerChannels, peer: str, hashes: list[bytes]
                       ) -> list[bytes | None]:
    """Payloads a replication partner holds (None where it does not, or did not answer)."""
    try:
        frames = decode_frames(await channels.request(
            peer, PeerMethod.RESTORE_PAYLOADS, encode_hashes(hashes), PEER_FETCH_TIMEOUT_S))
    except (PeerUnavailable, PeerRefused, ValueError) as error:
        LOGGER.warning("payload restore from %s failed: %s", peer, error)
        return [None] * len(hashes)
    if len(frames) != len(hashes):
        return [None] * len(hashes)
    return [frame[1:] if frame[:1] == FOUND else None for frame in frames]
