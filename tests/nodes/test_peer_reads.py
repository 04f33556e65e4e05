"""Peer reads: a node key alone reads nothing; the querier's signature and grant are checked."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from chain.builder import TransactionSigner, build_publish
from chain.crypto import keccak
from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import encode_record
from nodes.query.payload_intake import encode_pushed
from nodes.query.payloads import FOUND, encode_hashes
from nodes.query.request_signing import sign_request
from nodes.runtime.channel import PeerMethod, PeerRefused
from nodes.runtime.frames import decode_frames, encode_frames
from tests.nodes.api_node import ApiNode, make_api_node, tax_record
from tests.nodes.test_queries import _grant

ASKING_NODE = "hangzhou-1"


def _forwarded(node: ApiNode, label: str, target: str, addressed_to: str = ASKING_NODE
               ) -> list[bytes]:
    headers = sign_request(node.preset.key(label), node.preset.chain_id, addressed_to, "GET",
                           target, int(time.time() * 1000))
    return [text.encode() for text in (target, headers["x-yrd-timestamp"],
                                       headers["x-yrd-nonce"], headers["x-yrd-signature"])]


def _ask(node: ApiNode, method: PeerMethod, frames: list[bytes], peer: str = ASKING_NODE
         ) -> bytes:
    handler = node.runtime.transport.handlers[method]
    return asyncio.run(handler(peer, encode_frames(frames)))


def _push(node: ApiNode, items: list[tuple[bytes, bytes]], peer: str = "hefei-1") -> bytes:
    handler = node.runtime.transport.handlers[PeerMethod.STORE_PAYLOADS]
    return asyncio.run(handler(peer, encode_pushed(items)))


@pytest.fixture
def origin(preset: Preset, genesis: Genesis, tmp_path: Path) -> tuple[ApiNode, bytes, str]:
    node = make_api_node(preset, genesis, tmp_path, node_id="shanghai-1")
    record = tax_record(preset, "enterprise:shanghai:1", 3)
    node.client.post("/v1/records", json=node.publish_body("bureau:shanghai", record))
    _grant(node, "enterprise:shanghai:1", "bank:hangzhou", int(time.time()) + 3600)
    node.commit()
    return node, encode_record(record), record.enterprise.code


def test_payloads_go_to_a_querier_with_a_grant_only(origin: tuple[ApiNode, bytes, str]) -> None:
    node, payload, code = origin
    target = f"/v1/enterprises/{code}/report"
    wanted = encode_hashes([keccak(payload)])
    answer = decode_frames(_ask(node, PeerMethod.PAYLOADS,
                                [*_forwarded(node, "bank:hangzhou", target), wanted]))
    assert answer == [FOUND + payload]
    refusals = {
        "no grant": [*_forwarded(node, "bank:hefei", target), wanted],
        "signed for another node": [*_forwarded(node, "bank:hangzhou", target, "hefei-1"),
                                    wanted],
        "not a report": [*_forwarded(node, "bank:hangzhou", f"/v1/enterprises/{code}"), wanted],
        "another payload": [*_forwarded(node, "bank:hangzhou", target),
                            encode_hashes([keccak(b"someone else's record")])],
        "no querier at all": [b"", b"", b"", b"", wanted],
    }
    for why, frames in refusals.items():
        try:
            _ask(node, PeerMethod.PAYLOADS, frames)
        except PeerRefused:
            continue
        pytest.fail(f"payloads served with {why}")


def test_the_trail_goes_to_the_enterprise_or_a_regulator_only(
        origin: tuple[ApiNode, bytes, str]) -> None:
    node, _, code = origin
    target = f"/v1/enterprises/{code}/queries?limit=5"
    answer = _ask(node, PeerMethod.AUDIT_TRAIL,
                  [*_forwarded(node, "enterprise:shanghai:1", target), code.encode(), b"5"])
    assert answer.startswith(b'{"entries":')
    assert _ask(node, PeerMethod.AUDIT_TRAIL,
                [*_forwarded(node, "regulator", target), code.encode(), b"5"])
    with pytest.raises(PeerRefused, match="own key or a regulator"):
        _ask(node, PeerMethod.AUDIT_TRAIL,
             [*_forwarded(node, "bank:hangzhou", target), code.encode(), b"5"])


def test_payloads_are_exchanged_only_between_nodes_that_share_the_duty(
        origin: tuple[ApiNode, bytes, str]) -> None:
    node, payload, _ = origin  # shanghai-1: backed up by nanjing-1, backs up hefei-1 (local4)
    digest = keccak(payload)
    with pytest.raises(PeerRefused, match="hold the same payloads"):
        _ask(node, PeerMethod.STORE_PAYLOADS, [b"junk"], peer="hangzhou-1")
    with pytest.raises(PeerRefused, match="hold the same payloads"):
        asyncio.run(node.runtime.transport.handlers[PeerMethod.RESTORE_PAYLOADS](
            "hangzhou-1", digest))
    assert node.runtime.record_store.load_payload(keccak(b"junk")) is None
    # hefei-1 pushes the payload of a record it queued: held until the block, then kept
    key = node.preset.key("bureau:hefei")
    signed = build_publish(TransactionSigner(key, node.preset.chain_id), node.next_nonce(
        key.address), node.genesis.contracts.registry, tax_record(node.preset,
                                                                  "enterprise:hefei:1", 9))
    kept = signed.payload
    sent = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1,
                                          "method": "eth_sendRawTransaction",
                                          "params": ["0x" + signed.raw.hex()]})
    assert "result" in sent.json(), sent.text
    assert _push(node, [(signed.record_id, kept), (b"\7" * 32, b"no record names it")]) == b"2"
    assert node.runtime.record_store.load_payload(keccak(kept)) is None  # held, not stored
    node.commit()
    assert node.runtime.record_store.load_payload(keccak(kept)) == kept
    assert node.runtime.record_store.load_payload(keccak(b"no record names it")) is None
    # bytes pushed for a committed record that hash to something else are refused
    refused = node.services.intake.refused
    assert _push(node, [(signed.record_id, b"other bytes")]) == b"0"
    assert node.services.intake.refused == refused + 1
    assert node.runtime.record_store.load_payload(keccak(b"other bytes")) is None
    restored = decode_frames(asyncio.run(node.runtime.transport.handlers[
        PeerMethod.RESTORE_PAYLOADS]("nanjing-1", digest + keccak(b"absent"))))
    assert restored[0][:1] == b"\x01" and keccak(restored[0][1:]) == digest
    assert restored[1] == b"\x00"


def test_blocks_are_served_to_a_syncing_peer(origin: tuple[ApiNode, bytes, str]) -> None:
    node, _, _ = origin
    head = node.runtime.ledger.head.height
    frames = decode_frames(_ask_raw(node, PeerMethod.BLOCKS,
                                    (1).to_bytes(8, "big") + (64).to_bytes(4, "big")))
    assert len(frames) == head >= 1
    assert decode_frames(_ask_raw(node, PeerMethod.BLOCKS, (head + 1).to_bytes(8, "big")
                                  + (64).to_bytes(4, "big"))) == []
    with pytest.raises(PeerRefused, match="8-byte start"):
        _ask_raw(node, PeerMethod.BLOCKS, b"\x01")


def _ask_raw(node: ApiNode, method: PeerMethod, body: bytes) -> bytes:
    return asyncio.run(node.runtime.transport.handlers[method](ASKING_NODE, body))
