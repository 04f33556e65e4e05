"""Small helpers at the HTTP edge: JSON in and out, request targets, typed field access.

Shared by the REST routers (`nodes/api.py`, `nodes/api_signed.py`) and JSON-RPC (`nodes/rpc.py`)
so every route parses and answers the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fastapi import Request, Response

from chain.crypto import Address, checksum_address
from chain.errors import MalformedInput

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
    """A JSON document; MalformedInput naming what was expected."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedInput(f"{what} must be JSON: {error}", field=what) from error


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
