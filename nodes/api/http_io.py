"""Small helpers at the HTTP edge: JSON in and out, request targets, typed field access.

Shared by the REST routers (`nodes/api/rest.py`, `nodes/api/signed.py`) and JSON-RPC
(`nodes/api/rpc.py`) so every route parses and answers the same way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from chain.errors import MalformedInput, OversizedInput, YrdError
from chain.json_document import MAX_JSON_BYTES, decode_json, require_shallow

JSON_MEDIA_TYPE = "application/json"


def encode_json(content: Any) -> bytes:
    """Compact UTF-8 JSON, with orjson (integers beyond 64 bits fall back to the standard
    library); `orjson.Fragment` values are embedded as they are (already-encoded JSON)."""
    try:
        return orjson.dumps(content)
    except TypeError:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response written once (no response-model pass)."""
    return Response(content=encode_json(content), status_code=status_code,
                    media_type=JSON_MEDIA_TYPE)


def parse_json(body: bytes, what: str = "body") -> Any:
    """A JSON document, bounded in size and depth; MalformedInput naming what was expected."""
    return decode_json(body, what)


def parse_json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """A JSON object; MalformedInput if the document is anything else."""
    document = parse_json(body, what)
    if not isinstance(document, dict):
        raise MalformedInput(f"{what} must be a JSON object", field=what)
    return document


def text_field(document: dict[str, Any], name: str) -> str:
    """A required string field of a JSON object."""
    value = document.get(name)
    if not isinstance(value, str):
        raise MalformedInput(f"field {name!r} must be a string", field=name)
    return value


def request_target(request: Request) -> str:
    """The request target as the client sent it: raw path, and `?query` if there is one."""
    return scope_target(request.scope)


def scope_target(scope: Mapping[str, Any]) -> str:
    """The request target of an ASGI scope (raw path and query string)."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def error_document(code: str, message: str, field: str | None) -> dict[str, Any]:
    """The body of every error answer."""
    return {"error": code, "message": message, "field": field}


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BoundedJsonBodies:
    """ASGI middleware: a body the framework would parse as JSON is checked for depth first.

    FastAPI decodes a body itself, with the standard decoder, for routes that declare a model;
    those bodies (JSON or no content type) are read here, refused past `MAX_JSON_BYTES` or
    `MAX_JSON_DEPTH`, and handed on unchanged (the route applies its own size limit and says
    what it expected). Other bodies (binary peer frames) pass untouched:
    their routes read them with their own limits.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not json_typed(
                scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                await _refuse(send, 413, "oversized",
                              f"body exceeds the limit of {MAX_JSON_BYTES} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                require_shallow(body)
            except YrdError as error:
                await _refuse(send, error.http_status, error.code, error.message)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                         "more_body": False}], receive), send)


def json_typed(scope: Scope) -> bool:
    """Whether a request body is JSON by its content type (no content type counts as JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True


def _replay(messages: list[Message], then: Receive) -> Receive:
    """The messages already read, then the connection's own `receive` (for disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_document(code, message, "body")).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", JSON_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def error_response(error: YrdError) -> JSONResponse:
    """The one mapping from core errors to HTTP: `{error, message, field}` with its status."""
    return JSONResponse(
        status_code=error.http_status,
        content={"error": error.code, "message": error.message, "field": error.field},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with OversizedInput past `limit` bytes."""
    check_declared_length(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        extend_body(body, chunk, limit)
    return bytes(body)


def check_declared_length(declared: str | None, limit: int) -> None:
    """OversizedInput before reading when the declared Content-Length is past `limit`."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OversizedInput(f"body of {declared} bytes exceeds the limit of {limit}", "body")


def extend_body(body: bytearray, chunk: bytes, limit: int) -> None:
    """Add a chunk of a request body; OversizedInput once it is past `limit` bytes."""
    body.extend(chunk)
    if len(body) > limit:
        raise OversizedInput(f"body exceeds the limit of {limit} bytes", field="body")


def parse_hex(text: str, field: str, length: int | None = None) -> bytes:
    """0x-hex to bytes; MalformedInput saying what was expected."""
    expected = f"0x followed by {length * 2} hex digits" if length else "0x-prefixed hex"
    if not isinstance(text, str) or not text.startswith(("0x", "0X")):
        raise MalformedInput(f"{field} must be {expected}", field=field)
    try:
        value = bytes.fromhex(text[2:])
    except ValueError as error:
        raise MalformedInput(f"{field} must be {expected}; got {text[:20]!r}", field) from error
    if length is not None and len(value) != length:
        raise MalformedInput(f"{field} must be {expected}; got {len(value)} bytes", field)
    return value
