"""Small helpers at the HTTP edge: JSON in and out, request targets, typed field access.

Shared by the REST routers (`nodes/api.py`, `nodes/api_signed.py`) and JSON-RPC (`nodes/rpc.py`)
so every route parses and answers the same way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any

from fastapi import Request, Response

from chain.crypto import Address, checksum_address
from chain.errors import MalformedInput, YrdError
from chain.json_document import MAX_JSON_BYTES, decode_json

JSON_MEDIA_TYPE = "application/json"
CHECKSUM_CACHE_ENTRIES = 65_536  # institutions, enterprises' keys, contracts: a few thousand


@lru_cache(maxsize=CHECKSUM_CACHE_ENTRIES)
def address_text(address: Address) -> str:
    """EIP-55 text of an address, computed once per address (it costs about 50 µs)."""
    return checksum_address(address)


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response written once with the standard library (no response-model pass)."""
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content=body, status_code=status_code, media_type=JSON_MEDIA_TYPE)


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
    """ASGI middleware: a body the framework would parse as JSON is checked first.

    FastAPI decodes a body itself, with the standard decoder, for routes that declare a model;
    those bodies (JSON or no content type) are read here, refused past `MAX_JSON_BYTES` or
    `MAX_JSON_DEPTH`, and handed on unchanged. Other bodies (binary peer frames) pass untouched:
    their routes read them with their own limits.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not _json_typed(
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
                decode_json(body)
            except YrdError as error:
                await _refuse(send, error.http_status, error.code, error.message)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                         "more_body": False}], receive), send)


def _json_typed(scope: Scope) -> bool:
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
