"""What this node answers on the peer channel: payloads and audit reads for a forwarded request.

The channel has already authenticated the asking node (mutual TLS, a validator of this chain).
That alone is not enough to read anything: each request carries the institution's own signed
request (`nodes.query.payloads.ForwardedRequest`), and this node recovers its signer from the
canonical text addressed to the asking node, checks the timestamp window, then the same rules
the asking node applied — so a node key anyone could derive (the development presets) still
fetches no payload and no audit entry without a querier's signature and grant:

- `PAYLOADS`: the signer is an active querier holding a valid grant of the enterprise named in
  the report target, and every requested hash is a payload of that enterprise within the
  grant's scope (revoked versions excluded). Answer: one frame per hash, `0x01 || payload` or
  `0x00`.
- `AUDIT_TRAIL`: the signer is the enterprise's registered key or a regulator. Answer: JSON
  `{"entries": [...]}`.
- `AUDIT_PROOF`: the signer is the entry's enterprise, its querier or a regulator. Answer: the
  proof as JSON.
- `STORE_PAYLOADS`: only from a node that shares this node's payload duty (a node of this city,
  or a single-node city whose designated backup this node is: `chain.payload_backup`), and a
  payload is kept only for a record that refers to it: stored at once for a committed record
  with its hash, held (bounded) until the block for one not committed yet, refused otherwise
  (`nodes.query.payload_intake`). Answer: how many were stored or held.
- `RESTORE_PAYLOADS`: the same partners, for a wiped node restoring what it must hold. Answer:
  one frame per hash, `0x01 || payload` or `0x00`.

Refusals are `PeerRefused` with a reason; nothing is written by a refused request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chain.crypto import Address, address_text
from chain.enterprise import parse_credit_code
from chain.errors import YrdError
from chain.payload_backup import shares_payload_duty
from chain.query.audit import AuditEntry, entry_to_json, parse_entry_id, proof_to_json
from chain.query.consent import require_role
from chain.query.report import STATUS_REVOKED
from chain.query.signing import parse_request_signature, recover_request_signer
from contracts import bindings
from nodes.api.services import NodeServices, wall_clock_ms
from nodes.query.payload_intake import decode_pushed
from nodes.query.payloads import (
    ForwardedRequest,
    answer_fetch,
    decode_forwarded,
    decode_hashes,
)
from nodes.runtime.channel import PeerMethod, PeerRefused

REPORT_TARGET = re.compile(r"/v1/enterprises/([^/?]+)/report(\?.*)?")
TRAIL_TARGET = re.compile(r"/v1/enterprises/([^/?]+)/queries(\?.*)?")
PROOF_TARGET = re.compile(r"/v1/audit/proof/([^/?]+)(\?.*)?")
MAX_PEER_TRAIL_ENTRIES = 1_000


def forwarded_signer(services: NodeServices, peer: str, request: ForwardedRequest) -> Address:
    """The institution that signed a request addressed to `peer`; PeerRefused if none did."""
    try:
        signed = parse_request_signature(request.timestamp, request.nonce, request.signature)
        services.verifier.guard.check_time(signed.timestamp_ms, wall_clock_ms())
        return recover_request_signer(services.runtime.preset.chain_id, peer, "GET",
                                      request.target, signed)
    except YrdError as error:
        raise PeerRefused(f"forwarded request refused: {error}") from error


def _decode(body: bytes, extra: int) -> tuple[ForwardedRequest, list[bytes]]:
    try:
        return decode_forwarded(body, extra)
    except (ValueError, UnicodeDecodeError) as error:
        raise PeerRefused(f"malformed peer request: {error}") from error


def _is_regulator(services: NodeServices, account: Address) -> bool:
    member = services.runtime.ledger.members.get(account)
    return member is not None and member.status == 1 and bool(
        member.roles & bindings.ROLE_REGULATOR)


def install_peer_reads(services: NodeServices) -> None:
    """Register this node's answers to payload and audit requests on its peer channel."""
    runtime = services.runtime
    ledger = runtime.ledger
    node_id = runtime.config.node_id

    async def payloads(peer: str, body: bytes) -> bytes:
        request, (hashes_body,) = _decode(body, 1)
        match = REPORT_TARGET.fullmatch(request.target)
        if match is None:
            raise PeerRefused("payloads are served for a report request only")
        signer = forwarded_signer(services, peer, request)
        try:
            require_role(ledger.members, signer, bindings.ROLE_QUERIER, "a report")
            enterprise = parse_credit_code(match.group(1))
            grant = services.consent.require_grant(enterprise, signer, wall_clock_ms())
            hashes = decode_hashes(hashes_body)
        except (YrdError, ValueError) as error:
            raise PeerRefused(str(error)) from error
        allowed = {entry.payload_hash for entry in services.records.of(enterprise.code)
                   if grant.scope >> entry.kind & 1 and entry.status != STATUS_REVOKED}
        if not set(hashes) <= allowed:
            raise PeerRefused(f"a requested payload is not a record of {enterprise.code} "
                              "within the querier's grant")
        return answer_fetch(runtime.record_store, hashes)

    async def trail(peer: str, body: bytes) -> bytes:
        request, (code_frame, limit_frame) = _decode(body, 2)
        signer = forwarded_signer(services, peer, request)
        try:
            enterprise = parse_credit_code(code_frame.decode("ascii"))
            limit = min(int(limit_frame), MAX_PEER_TRAIL_ENTRIES)
        except (YrdError, ValueError) as error:
            raise PeerRefused(str(error)) from error
        match = TRAIL_TARGET.fullmatch(request.target)
        if match is None or match.group(1) != enterprise.code:
            raise PeerRefused("the audit trail is served for a trail request of that enterprise")
        key = services.consent.enterprise_key(enterprise.to_bytes32())
        if signer != key and not _is_regulator(services, signer):
            raise PeerRefused(f"the trail of {enterprise.code} is readable by its own key or "
                              "a regulator")
        entries = [{"entry_id": entry.entry_id, **entry_to_json(entry), **_batch(services, entry)}
                   for entry in services.audit.entries_of(enterprise.code, limit)]
        return json.dumps({"entries": entries}, separators=(",", ":")).encode("utf-8")

    async def proof(peer: str, body: bytes) -> bytes:
        request, (entry_frame,) = _decode(body, 1)
        signer = forwarded_signer(services, peer, request)
        try:
            entry_id = entry_frame.decode("ascii")
            entry_node, sequence = parse_entry_id(entry_id)
            if entry_node != node_id:
                raise PeerRefused(f"this is {node_id}, not {entry_node}")
            match = PROOF_TARGET.fullmatch(request.target)
            if match is None or match.group(1) != entry_id:
                raise PeerRefused("a proof is served for a proof request of that entry")
            found = services.audit.proof(sequence)
        except (YrdError, ValueError) as error:
            raise PeerRefused(str(error)) from error
        entry = found.entry
        if address_text(signer) != entry.querier and not _is_regulator(services, signer):
            key = services.consent.enterprise_key(
                parse_credit_code(entry.enterprise).to_bytes32())
            if key is None or signer != key:
                raise PeerRefused(f"audit entry {entry.entry_id} is readable by its enterprise, "
                                  "its querier or a regulator", code="forbidden")
        return json.dumps(proof_to_json(found), separators=(",", ":")).encode("utf-8")

    def require_partner(peer: str) -> None:
        if not shares_payload_duty(runtime.preset, node_id, peer):
            raise PeerRefused("payloads are exchanged only between nodes that hold the same "
                              "payloads (one city, or a city and its designated backup)")

    async def store(peer: str, body: bytes) -> bytes:
        require_partner(peer)
        try:
            items = decode_pushed(body)
        except ValueError as error:
            services.intake.refuse_malformed(peer, str(error))
            raise PeerRefused(str(error)) from error
        result = services.intake.receive(peer, items)
        return str(result.stored + result.held).encode("ascii")

    async def restore(peer: str, body: bytes) -> bytes:
        require_partner(peer)
        try:
            hashes = decode_hashes(body)
        except ValueError as error:
            raise PeerRefused(str(error)) from error
        return answer_fetch(runtime.record_store, hashes)

    handlers = runtime.transport.handlers
    handlers[PeerMethod.PAYLOADS] = payloads
    handlers[PeerMethod.AUDIT_TRAIL] = trail
    handlers[PeerMethod.AUDIT_PROOF] = proof
    handlers[PeerMethod.STORE_PAYLOADS] = store
    handlers[PeerMethod.RESTORE_PAYLOADS] = restore


def _batch(services: NodeServices, entry: AuditEntry) -> dict[str, Any]:
    batch = services.audit.batch_of(entry.sequence)
    return {"batch_seq": batch.batch_seq if batch else None, "anchored": batch is not None}
