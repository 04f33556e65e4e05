"""Record payloads for reports: from this node's record store or from the origin city's nodes.

Every payload is checked against the hash on chain wherever it comes from, the node's own disk
included: bytes that hash to something else are reported as tampered and never served. A payload
this node does not hold is fetched over the peer HTTP transport from the nodes of the record's
origin city (`POST /peer/payloads/fetch`), trying each in turn until one serves bytes that match,
then from the city's designated backup nodes (`chain.payload_backup`: a copy in another city
when the origin city has one node).

Peer requests are authenticated with the requesting node's Ed25519 consensus key (`PeerAuth`),
so payloads and audit entries leave a node only for another validator of the same chain, which
answers its institutions only after their own signature and consent checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from chain.codec import RecordEntry
from chain.consensus.validators import ValidatorSet
from chain.crypto import keccak
from chain.errors import Forbidden, Unauthenticated
from chain.payload_backup import backups_of_city, payload_holders
from chain.presets import Preset
from nodes.runtime.frames import decode_frames, encode_frames
from nodes.storage.records import RecordStore

LOGGER = logging.getLogger(__name__)
PEER_REQUEST_WINDOW_MS = 30_000
PEER_FETCH_TIMEOUT_S = 3.0
MAX_HASHES_PER_FETCH = 1_024  # one report never holds more than this many versions per city
HASH_BYTES = 32
PEER_NODE_HEADER = "x-yrd-peer"
PEER_TIMESTAMP_HEADER = "x-yrd-peer-timestamp"
PEER_SIGNATURE_HEADER = "x-yrd-peer-signature"
FOUND = b"\x01"
MISSING = b"\x00"


class PayloadStatus(Enum):
    """What a report says of a record's payload."""

    VERIFIED = "verified"
    TAMPERED = "tampered"
    UNAVAILABLE = "unavailable"
    NOT_UPLOADED = "not_uploaded"
    WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class PayloadResult:
    """A payload looked up for a report: its status, bytes (verified only) and source node."""

    status: PayloadStatus
    payload: bytes | None
    node_id: str | None
    detail: str | None = None


def check_bytes(payload_hash: bytes, payload: bytes, node_id: str) -> PayloadResult:
    """Verified if the bytes hash to `payload_hash`, tampered otherwise (bytes dropped)."""
    actual = keccak(payload)
    if actual == payload_hash:
        return PayloadResult(PayloadStatus.VERIFIED, payload, node_id)
    return PayloadResult(PayloadStatus.TAMPERED, None, node_id,
                         f"payload held by {node_id} hashes to 0x{actual.hex()}, the chain says "
                         f"0x{payload_hash.hex()}")


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
    answers = []
    for payload_hash in hashes:
        payload = store.load_payload(payload_hash)
        answers.append(MISSING if payload is None else FOUND + payload)
    return encode_frames(answers)


class PeerAuth:
    """Signs this node's peer requests and verifies other validators' (Ed25519)."""

    def __init__(self, chain_id: int, node_id: str, seed: bytes,
                 validator_set: ValidatorSet) -> None:
        self.chain_id = chain_id
        self.node_id = node_id
        self._key = SigningKey(seed)
        self._validators = validator_set

    def _message(self, node_id: str, method: str, path: str, timestamp_ms: int,
                 body: bytes) -> bytes:
        head = f"yrdchain peer v1\n{self.chain_id}\n{node_id}\n{method}\n{path}\n{timestamp_ms}\n"
        return head.encode("utf-8") + hashlib.sha256(body).digest()

    def headers(self, method: str, path: str, body: bytes, now_ms: int) -> dict[str, str]:
        """The headers that authenticate one request from this node."""
        message = self._message(self.node_id, method, path, now_ms, body)
        return {PEER_NODE_HEADER: self.node_id, PEER_TIMESTAMP_HEADER: str(now_ms),
                PEER_SIGNATURE_HEADER: self._key.sign(message).signature.hex()}

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str],
               now_ms: int) -> str:
        """The validator that signed the request; Unauthenticated or Forbidden otherwise."""
        node_id = headers.get(PEER_NODE_HEADER, "")
        timestamp = headers.get(PEER_TIMESTAMP_HEADER, "")
        signature = headers.get(PEER_SIGNATURE_HEADER, "")
        key = self._validators.verify_key(node_id)
        if key is None:
            raise Forbidden("peer routes answer validators of this chain only", PEER_NODE_HEADER)
        if not timestamp.isdigit() or abs(int(timestamp) - now_ms) > PEER_REQUEST_WINDOW_MS:
            raise Unauthenticated("peer request timestamp missing or stale", PEER_TIMESTAMP_HEADER)
        try:
            key.verify(self._message(node_id, method, path, int(timestamp), body),
                       bytes.fromhex(signature))
        except (BadSignatureError, ValueError, TypeError) as error:
            raise Unauthenticated("peer signature does not verify",
                                  PEER_SIGNATURE_HEADER) from error
        return node_id


class PayloadFetcher:
    """Finds and checks the payloads a report needs."""

    def __init__(self, node_id: str, store: RecordStore, preset: Preset,
                 peers: Mapping[str, str], auth: PeerAuth) -> None:
        self.node_id = node_id
        self.store = store
        self.preset = preset
        self.peers = dict(peers)
        self.auth = auth
        self.remote_fetches = 0
        self.tampered = 0
        self.unavailable = 0
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=PEER_FETCH_TIMEOUT_S)
        return self._client

    async def close(self) -> None:
        """Close the peer HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def city_nodes(self, city_number: int) -> list[str]:
        """The other nodes of a city that this node can reach."""
        return [node.node_id for node in self.preset.nodes
                if node.city.number == city_number and node.node_id in self.peers]

    async def resolve(self, entries: list[RecordEntry], now_ms: int) -> dict[
            bytes, PayloadResult]:
        """The checked payload of each entry, local first, then from the origin city's nodes."""
        results: dict[bytes, PayloadResult] = {}
        missing: dict[int, list[bytes]] = {}
        for entry in entries:
            if entry.payload_hash in results:
                continue
            payload = self.store.load_payload(entry.payload_hash)
            if payload is not None:
                results[entry.payload_hash] = check_bytes(entry.payload_hash, payload,
                                                          self.node_id)
            else:
                hashes = missing.setdefault(entry.origin_city, [])
                if entry.payload_hash not in hashes:
                    hashes.append(entry.payload_hash)
        if missing:
            found = await asyncio.gather(*(self._from_city(city, hashes, now_ms)
                                           for city, hashes in missing.items()))
            for city_results in found:
                results.update(city_results)
        for result in results.values():
            if result.status is PayloadStatus.TAMPERED:
                self.tampered += 1
            elif result.status is PayloadStatus.UNAVAILABLE:
                self.unavailable += 1
        return results

    async def _from_city(self, city: int, hashes: list[bytes], now_ms: int) -> dict[
            bytes, PayloadResult]:
        """Ask the city's nodes in turn. When one of them (or this node, if it is of the city)
        answered and none holds a payload, its publisher never uploaded it ("not_uploaded": a
        publish sent through JSON-RPC); when none answered, it is "unavailable"."""
        results: dict[bytes, PayloadResult] = {}
        wanted = list(hashes)
        answered = self.preset.node(self.node_id).city.number == city
        for peer in self.city_nodes(city):
            if not wanted:
                break
            peer_answered, answers = await self._fetch(peer, wanted, now_ms)
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
            if not wanted or backup not in self.peers:
                continue
            _, answers = await self._fetch(backup, wanted, now_ms)
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

    async def _fetch(self, peer: str, hashes: list[bytes], now_ms: int) -> tuple[
            bool, list[bytes | None]]:
        """Whether the peer answered, and the payloads it holds (None where it does not)."""
        body = encode_hashes(hashes)
        path = "/peer/payloads/fetch"
        self.remote_fetches += 1
        try:
            response = await self._http().post(
                self.peers[peer] + path, content=body,
                headers=self.auth.headers("POST", path, body, now_ms))
            frames = decode_frames(response.content) if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError) as error:
            LOGGER.warning("payload fetch from %s failed: %s", peer, error)
            frames = []
        if len(frames) != len(hashes):
            return False, [None] * len(hashes)
        return True, [frame[1:] if frame[:1] == FOUND else None for frame in frames]

    async def get_json(self, peer: str, path: str, params: Mapping[str, str],
                       now_ms: int) -> Any:
        """An authenticated GET to a peer's JSON route; None if it fails or does not answer 200."""
        url = self.peers.get(peer)
        if url is None:
            return None
        try:
            response = await self._http().get(url + path, params=dict(params),
                                              headers=self.auth.headers("GET", path, b"", now_ms))
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as error:
            LOGGER.warning("GET %s from %s failed: %s", path, peer, error)
            return None

    async def replicate(self, payloads: list[bytes], now_ms: int) -> None:
        """Push new payloads to the other nodes of this node's city and, when it is the city's
        only node, to its designated backup in another city (chain.payload_backup)."""
        body = encode_frames(payloads)
        path = "/peer/payloads/store"
        holders = payload_holders(self.preset, self.node_id)
        for peer in [holder for holder in holders if holder in self.peers]:
            try:
                await self._http().post(self.peers[peer] + path, content=body,
                                        headers=self.auth.headers("POST", path, body, now_ms))
            except httpx.HTTPError as error:
                LOGGER.warning("payload replication to %s failed: %s", peer, error)


def store_replicated(store: RecordStore, frames: list[bytes]) -> int:
    """Save payloads a peer of this city pushed, each under its own hash; returns how many."""
    for payload in frames:
        store.save_payload(keccak(payload), payload)
    return len(frames)


def decode_store_body(body: bytes) -> list[bytes]:
    """The payload frames of a replication request; ValueError if malformed."""
    return decode_frames(body)
