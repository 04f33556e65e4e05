"""`PUT /v1/records/{record_id}/payload`: the publisher uploads a payload after the fact.

A publish sent through JSON-RPC (`eth_sendRawTransaction`, e.g. from ethers or viem) carries no
payload: only its hash goes on chain. Its publisher uploads the payload here once the record is
committed, with a signed request (the headers and canonical text of docs/spec/api.md, method
`PUT`). The node checks the signer is the record's publisher and that the bytes hash to the
on-chain payload hash, stores them and replicates them to its city's other nodes, like
`POST /v1/records` does. Until then a report lists the record as `not_uploaded`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from chain.crypto import address_text, keccak
from chain.errors import Forbidden, MalformedInput
from chain.records import MAX_PAYLOAD_BYTES
from nodes.api.http_io import json_response, parse_hex, parse_json_object, read_body, request_target
from nodes.api.rest import ERROR_RESPONSES, payload_bytes
from nodes.api.services import NodeServices, wall_clock_ms

MAX_UPLOAD_BODY_BYTES = 256 * 1024  # one payload of up to 64 KiB in JSON, with room to spare


class PayloadUploadBody(BaseModel):
    """One record payload: a JSON object (hashed in canonical form) or the exact string hashed."""

    payload: dict[str, Any] | str = Field(description="the record's payload")


class PayloadUploaded(BaseModel):
    """The outcome of an upload."""

    record_id: str = Field(description="0x + 64 hex digits")
    payload_hash: str = Field(description="the on-chain hash the payload matches")
    publisher: str = Field(description="EIP-55 address of the record's publisher")
    stored: bool = Field(description="false when the node already held the payload")


def payload_upload_router(services: NodeServices) -> APIRouter:
    """The upload route."""
    router = APIRouter(tags=["records"], responses=ERROR_RESPONSES)
    runtime = services.runtime

    @router.put(
        "/v1/records/{record_id}/payload", response_model=PayloadUploaded,
        responses={201: {"model": PayloadUploaded, "description": "Stored (and replicated)"}},
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": PayloadUploadBody.model_json_schema()}}}})
    async def upload_payload(record_id: str, request: Request) -> Response:
        """Upload a committed record's payload (publisher-signed; checked against its hash)."""
        signer = services.verifier.verify("PUT", request_target(request), request.headers,
                                          wall_clock_ms())
        services.take_write(signer)
        entry = runtime.ledger.record(parse_hex(record_id, "record_id", 32))
        if entry.publisher != signer:
            raise Forbidden(f"only the record's publisher {address_text(entry.publisher)} may "
                            f"upload its payload; the request is signed by "
                            f"{address_text(signer)}", field="signature")
        document = parse_json_object(await read_body(request, MAX_UPLOAD_BODY_BYTES))
        if "payload" not in document:
            raise MalformedInput('body must be JSON {"payload": …}', field="payload")
        payload = payload_bytes(document["payload"])
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise MalformedInput(f"a payload exceeds {MAX_PAYLOAD_BYTES} bytes", "payload")
        actual = keccak(payload)
        if actual != entry.payload_hash:
            raise MalformedInput(f"the payload hashes to 0x{actual.hex()}; the chain holds "
                                 f"0x{entry.payload_hash.hex()} for this record", "payload")
        stored = not runtime.record_store.has_payload(entry.payload_hash)
        if stored:
            runtime.record_store.save_payload(entry.payload_hash, payload)
            services.in_background(services.payloads.replicate([(entry.record_id, payload)]))
        return json_response({"record_id": record_id.lower(),
                              "payload_hash": "0x" + entry.payload_hash.hex(),
                              "publisher": address_text(entry.publisher), "stored": stored},
                             201 if stored else 200)

    return router
