"""The institution-facing REST API: publish, consent, disputes, explorer reads and /metrics.

`mount_api(app, runtime)` builds the node's services, adds the routers of this module and of
`nodes/api/signed.py` (signed reads and the peer routes behind them) and JSON-RPC
(`nodes/api/rpc.py`), and installs the error handlers: every refusal is a JSON body
`{error, message, field}` (see `nodes.api.app.error_response`), request validation errors included;
anything unexpected is logged and answered 500 with the same shape and no stack trace.

Every write route takes a transaction the institution signed itself (`{"raw": "0x…"}`), checks
that it calls the function the route is for, and admits it like `POST /v1/transactions` does.
Nothing is stored unless the whole request is valid.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.admission import check_call, check_transaction
from chain.call_admission import decode_arguments
from chain.crypto import checksum_address, keccak
from chain.enterprise import EnterpriseId, parse_credit_code
from chain.errors import MalformedInput, NotFound, UnknownEnterprise, WrongFunction
from chain.ledger import Ledger
from chain.query.report import record_summary
from chain.records import MAX_PAYLOAD_BYTES, decode_record, encode_record, record_from_json_object
from chain.transactions import AdmittedTransaction
from contracts import bindings
from nodes.api.http_io import (
    error_document,
    json_response,
    parse_hex,
    parse_json_object,
    read_body,
    text_field,
)
from nodes.api.metrics import CONTENT_TYPE, process_metrics, render, request_metrics
from nodes.api.path_params import CreditCodeParam, Hash32Param, HeightParam, parse_height
from nodes.api.services import NodeServices
from nodes.api.worker_metrics import merge_families

LOGGER = logging.getLogger(__name__)
MAX_WRITE_BODY_BYTES = 256 * 1024  # a signed transaction in hex plus a few fields
MAX_PUBLISH_BODY_BYTES = 8 * 1024 * 1024  # a batch of 64 payloads of up to 64 KiB each, in JSON
MAX_HEIGHT = 2**63 - 1
RAW_PATTERN = r"^0x([0-9a-fA-F]{2})+$"
RECORD_WRITES = ("publish", "publish_batch", "correct")  # calls whose payloads stay off chain


class ErrorBody(BaseModel):
    """Every refusal: a stable code, what was expected and what came, the field at fault."""

    error: str
    message: str
    field: str | None = None


class TransactionBody(BaseModel):
    """A signed transaction (legacy EIP-155 or EIP-1559) as 0x-prefixed hex."""

    raw: str = Field(description="0x-prefixed hex of the signed transaction",
                     pattern=RAW_PATTERN)


class PublishBody(BaseModel):
    """A signed publish, publish_batch or correct transaction and the payload(s) it hashes.

    A payload is a credit record as a JSON object (the node hashes its canonical encoding) or
    as a string (the exact UTF-8 bytes that were hashed).
    """

    raw: str = Field(description="0x-prefixed hex of the signed transaction",
                     pattern=RAW_PATTERN)
    payload: dict[str, Any] | str | None = Field(None, description="one record payload")
    payloads: list[dict[str, Any] | str] | None = Field(
        None, description="the payloads of a publish_batch, in any order")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "malformed input"), (401, "bad, stale or replayed signature"),
        (403, "missing role or consent"), (404, "not found"), (409, "conflict"),
        (413, "body too large"), (422, "invalid input"), (429, "rate limited"))
}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI request-body documentation for a route that reads its body itself."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors, unknown routes and unexpected failures answer {error, message, field}."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        location = [str(part) for part in first.get("loc", ())]
        field = location[-1] if location else None
        message = f"{'.'.join(location) or 'request'}: {first.get('msg', 'invalid input')}"
        return json_response(error_document("invalid_input", message, field), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        response = json_response(error_document(code, str(error.detail), None), error.status_code)
        response.headers.update(error.headers or {})  # 405 names the allowed methods (Allow)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        LOGGER.exception("unexpected failure on %s %s", request.method, request.url.path)
        return json_response(error_document(
            "internal_error", "the node failed to answer; the failure is logged", None), 500)


# Writes ------------------------------------------------------------------------------------


def admit_call(services: NodeServices, raw: bytes, functions: tuple[str, ...]) -> tuple[
        AdmittedTransaction, tuple[Any, ...]]:
    """Decode, recover (once), rate-limit and check a transaction that must call `functions`.

    Returns the admitted transaction and its decoded arguments; nothing is queued yet.
    """
    ledger = services.runtime.ledger
    admitted = ledger.senders.admit(ledger.decode(raw))
    services.take_write(admitted.sender)
    function = check_call(admitted, ledger.members, ledger.contracts)
    if function.name not in functions:
        raise WrongFunction(f"this route takes {' or '.join(functions)}; the transaction calls "
                            f"{function.name}", field="raw")
    arguments = decode_arguments(function, admitted.transaction.data)
    ledger.check_admissible(admitted)
    return admitted, arguments


def submitted(services: NodeServices, admitted: AdmittedTransaction, **extra: Any) -> Response:
    """Queue an admitted transaction (decoded and verified once, by `admit_call`): 202."""
    services.runtime.submit_admitted(admitted)
    return json_response({"transaction_hash": "0x" + admitted.hash.hex(),
                          "from": checksum_address(admitted.sender), "nonce": admitted.nonce,
                          **extra}, 202)


def payload_bytes(item: object) -> bytes:
    """The exact bytes of one payload: canonical JSON of an object, or a string's UTF-8."""
    if isinstance(item, dict):
        return encode_record(record_from_json_object(item))
    if isinstance(item, str):
        payload = item.encode("utf-8")
        decode_record(payload)
        return payload
    raise MalformedInput("a payload is a JSON object or a string of JSON", field="payload")


def publish_items(function: str, arguments: tuple[Any, ...]) -> list[tuple[bytes, bytes | None,
                                                                           int | None]]:
    """(payload hash, enterprise bytes32 or None, kind or None) for each record a call writes."""
    if function == "publish":
        return [(bytes(arguments[3]), bytes(arguments[1]), int(arguments[2]))]
    if function == "publish_batch":
        return [(bytes(h), bytes(e), int(k))
                for e, k, h in zip(arguments[1], arguments[2], arguments[3], strict=False)]
    return [(bytes(arguments[2]), None, None)]


def written_record_ids(function: str, arguments: tuple[Any, ...]) -> list[bytes]:
    """The id of each record version a call writes, in `publish_items`' order."""
    if function == "publish":
        return [bytes(arguments[0])]
    if function == "publish_batch":
        return [bytes(record_id) for record_id in arguments[0]]
    return [bytes(arguments[1])]


def match_payloads(document: dict[str, Any], items: list[tuple[bytes, bytes | None,
                                                               int | None]]) -> list[bytes]:
    """The payload for each written record, checked against the calldata's hashes."""
    given = document.get("payloads")
    if given is None:
        given = [document["payload"]] if document.get("payload") is not None else []
    if not isinstance(given, list) or not given:
        raise MalformedInput("give the record's payload (`payload`) or, for publish_batch, "
                             "`payloads`", field="payload")
    by_hash = {}
    for item in given:
        payload = payload_bytes(item)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise MalformedInput(f"a payload exceeds {MAX_PAYLOAD_BYTES} bytes", "payload")
        by_hash[keccak(payload)] = payload
    wanted = {payload_hash for payload_hash, _, _ in items}
    for payload_hash, enterprise, kind in items:
        matched = by_hash.get(payload_hash)
        if matched is None:
            raise MalformedInput(f"no payload hashes to 0x{payload_hash.hex()}, the hash the "
                                 "transaction publishes", field="payload")
        record = decode_record(matched)
        if enterprise is not None and record.enterprise.to_bytes32() != enterprise:
            raise MalformedInput("the payload's enterprise differs from the transaction's",
                                 field="payload")
        if kind is not None and int(record.kind) != kind:
            raise MalformedInput(f"the payload's kind {record.kind.name.lower()} differs from "
                                 f"the transaction's kind {kind}", field="payload")
    extra = set(by_hash) - wanted
    if extra:
        raise MalformedInput(f"{len(extra)} payload(s) match no hash of the transaction",
                             field="payloads")
    return [by_hash[payload_hash] for payload_hash, _, _ in items]


def write_router(services: NodeServices) -> APIRouter:
    """POST routes that queue signed transactions."""
    router = APIRouter(tags=["transactions"], responses=ERROR_RESPONSES)
    runtime = services.runtime

    async def raw_of(request: Request, limit: int = MAX_WRITE_BODY_BYTES) -> tuple[
            dict[str, Any], bytes]:
        document = parse_json_object(await read_body(request, limit))
        return document, parse_hex(text_field(document, "raw"), "raw")

    @router.post("/v1/records", status_code=202, openapi_extra=body_schema(PublishBody))
    async def publish(request: Request) -> Response:
        """Publish (or correct) records: the signed transaction plus the payloads it hashes.

        The payloads stay off chain in this node's record store (and its city's other nodes);
        the node refuses the request unless every payload hashes to its hash in the calldata.
        """
        document, raw = await raw_of(request, MAX_PUBLISH_BODY_BYTES)
        admitted, arguments = admit_call(services, raw, RECORD_WRITES)
        return store_and_submit(document, admitted, arguments)

    def store_and_submit(document: dict[str, Any], admitted: AdmittedTransaction,
                         arguments: tuple[Any, ...]) -> Response:
        """Check the payloads against the calldata, store them, queue the write: 202."""
        function = bindings.function_for(admitted.transaction.data).name
        items = publish_items(function, arguments)
        payloads = match_payloads(document, items)
        for (payload_hash, _, _), payload in zip(items, payloads, strict=True):
            runtime.record_store.save_payload(payload_hash, payload)
        response = submitted(services, admitted, payload_hashes=[
            "0x" + payload_hash.hex() for payload_hash, _, _ in items])
        services.in_background(services.payloads.replicate(
            list(zip(written_record_ids(function, arguments), payloads, strict=False))))
        return response

    @router.post("/v1/transactions", status_code=202, openapi_extra=body_schema(PublishBody))
    async def submit_transaction(request: Request) -> Response:
        """Submit any signed transaction (`{"raw": "0x…"}`); answers its hash.

        A record write (publish, publish_batch, correct) carries its payload(s) as at
        `POST /v1/records`: nothing is queued for a record whose payload the node does not hold.
        """
        document, raw = await raw_of(request, MAX_PUBLISH_BODY_BYTES)
        ledger = runtime.ledger
        admitted = ledger.senders.admit(ledger.decode(raw))
        function = check_transaction(admitted, ledger.members, ledger.contracts,
                                     ledger.member_contracts)
        if function is not None and function.name in RECORD_WRITES:
            arguments = decode_arguments(function, admitted.transaction.data)
            ledger.check_admissible(admitted)
            return store_and_submit(document, admitted, arguments)
        return submitted(services, admitted)

    @router.post("/v1/grants", status_code=202, openapi_extra=body_schema(TransactionBody))
    async def grant(request: Request) -> Response:
        """Submit an enterprise's signed grant (Authorization.grant, sent by the querier)."""
        _, raw = await raw_of(request)
        admitted, _ = admit_call(services, raw, ("grant",))
        return submitted(services, admitted)

    @router.post("/v1/grants/revocations", status_code=202,
                 openapi_extra=body_schema(TransactionBody))
    async def revoke_grant(request: Request) -> Response:
        """Submit an enterprise's signed revocation (Authorization.revoke_grant)."""
        _, raw = await raw_of(request)
        admitted, _ = admit_call(services, raw, ("revoke_grant",))
        return submitted(services, admitted)

    @router.post("/v1/disputes", status_code=202, openapi_extra=body_schema(TransactionBody))
    async def open_dispute(request: Request) -> Response:
        """Open a dispute over a record (CreditRegistry.open_dispute)."""
        _, raw = await raw_of(request)
        admitted, arguments = admit_call(services, raw, ("open_dispute",))
        return submitted(services, admitted, dispute_id="0x" + bytes(arguments[0]).hex())

    @router.post("/v1/disputes/{dispute_id}/response", status_code=202,
                 openapi_extra=body_schema(TransactionBody))
    async def respond(dispute_id: Hash32Param, request: Request) -> Response:
        """The record's publisher answers a dispute (CreditRegistry.respond)."""
        expected = parse_hex(dispute_id, "dispute_id", 32)
        _, raw = await raw_of(request)
        admitted, arguments = admit_call(services, raw, ("respond",))
        _same_dispute(expected, arguments[0])
        return submitted(services, admitted)

    @router.post("/v1/disputes/{dispute_id}/resolution", status_code=202,
                 openapi_extra=body_schema(TransactionBody))
    async def resolve(dispute_id: Hash32Param, request: Request) -> Response:
        """A regulator decides a dispute (CreditRegistry.resolve)."""
        expected = parse_hex(dispute_id, "dispute_id", 32)
        _, raw = await raw_of(request)
        admitted, arguments = admit_call(services, raw, ("resolve",))
        _same_dispute(expected, arguments[0])
        return submitted(services, admitted)

    return router


def _same_dispute(expected: bytes, called: object) -> None:
    if bytes(called) != expected:  # type: ignore[call-overload]
        raise MalformedInput("the transaction names another dispute than the path",
                             field="dispute_id")


# Reads -------------------------------------------------------------------------------------


def block_summary(ledger: Ledger, height: int) -> dict[str, Any]:
    """A committed block for the explorer."""
    if not 0 <= height <= MAX_HEIGHT:
        raise NotFound(f"no block at height {height}", field="height")
    block = ledger.block(height)
    header = block.header
    return {
        "height": header.height, "hash": "0x" + block.hash.hex(),
        "parent_hash": "0x" + header.parent_hash.hex(), "timestamp_ms": header.timestamp_ms,
        "proposer": header.proposer, "state_root": "0x" + header.state_root.hex(),
        "transactions_root": "0x" + header.transactions_root.hex(),
        "receipts_root": "0x" + header.receipts_root.hex(), "gas_used": header.gas_used,
        "transactions": ["0x" + keccak(raw).hex() for raw in block.transactions],
        "certified": bool(block.certificate),
    }


def known_enterprise(services: NodeServices, code: str) -> EnterpriseId:
    """A valid credit code the chain knows (a registered key or a record); 404 otherwise."""
    enterprise = parse_credit_code(code)
    ledger = services.runtime.ledger
    if services.consent.enterprise_key(enterprise.to_bytes32()) is None and not (
            ledger.has_records(enterprise.code)):
        raise UnknownEnterprise(f"no enterprise {enterprise.code} is registered or has "
                                "records on this chain", field="credit_code")
    return enterprise


def read_router(services: NodeServices) -> APIRouter:
    """Unsigned reads: blocks, records, disputes, enterprises, metrics."""
    router = APIRouter(responses=ERROR_RESPONSES)
    runtime = services.runtime
    ledger = runtime.ledger

    @router.get("/v1/blocks/latest", tags=["explorer"])
    async def latest_block() -> Response:
        """The last committed block."""
        return json_response(block_summary(ledger, ledger.head.height))

    @router.get("/v1/blocks/{height}", tags=["explorer"])
    async def block_at(height: HeightParam) -> Response:
        """A committed block by height."""
        return json_response(block_summary(ledger, parse_height(height)))

    @router.get("/v1/records/{record_id}", tags=["explorer"])
    async def record_versions(record_id: Hash32Param) -> Response:
        """A record's on-chain facts and its whole version chain (no payload)."""
        versions = ledger.record_versions(parse_hex(record_id, "record_id", 32))
        return json_response({"record_id": record_id.lower(), "versions": [
            record_summary(entry, ledger.members) for entry in versions]})

    @router.get("/v1/enterprises/{credit_code}", tags=["explorer"])
    async def enterprise_summary(credit_code: CreditCodeParam) -> Response:
        """An enterprise's key, grant nonce (what its next signature carries) and record count."""
        enterprise = known_enterprise(services, credit_code)
        code = enterprise.to_bytes32()
        key = services.consent.enterprise_key(code)
        nonce = ledger.pending_grant_nonce(code)
        return json_response({
            "credit_code": enterprise.code, "city": enterprise.city.value,
            "key": checksum_address(key) if key else None, "grant_nonce": nonce,
            "record_versions": len(ledger.records_of(enterprise.code))})

    @router.get("/v1/disputes/{dispute_id}", tags=["disputes"])
    async def dispute(dispute_id: Hash32Param) -> Response:
        """A dispute: its record, opener, status, deadline and the hashes of reason and response."""
        identifier = parse_hex(dispute_id, "dispute_id", 32)
        view = bindings.decode_dispute(ledger.call(
            ledger.contracts.registry, bindings.encode_dispute(identifier)).output)
        if not view.exists:
            raise NotFound(f"no dispute {dispute_id}", field="dispute_id")
        return json_response({
            "dispute_id": "0x" + identifier.hex(), "record_id": "0x" + view.record_id.hex(),
            "opener": checksum_address(view.opener), "status": view.status.name.lower(),
            "reason_hash": "0x" + view.reason_hash.hex(),
            "response_hash": "0x" + view.response_hash.hex() if any(view.response_hash)
            else None,
            "opened_at_block": view.opened_at, "deadline_block": view.deadline,
            "height": ledger.head.height})

    @router.get("/metrics", tags=["node"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics: heights, rounds, mempool, signatures, queries, latencies."""
        own = [*services.metrics(), *request_metrics(services.requests), *process_metrics()]
        text = render(merge_families(own, await services.worker_metrics()),
                      {"node": runtime.config.node_id})
        return Response(content=text, media_type=CONTENT_TYPE)

    return router

