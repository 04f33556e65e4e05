"""JSON documents from untrusted bytes, bounded in size and nesting depth.

Every JSON body a node reads (REST, JSON-RPC, dashboard control, record payloads) goes through
`decode_json`. The standard decoder recurses once per nesting level on the C stack; py-evm and
py_ecc raise the interpreter's recursion limit (to 12,288 and 100,000), so a body of 100,000
nested brackets overflowed the C stack and killed the process. Depth is measured here first,
without recursion, and a document deeper than `MAX_JSON_DEPTH` is refused before the decoder
sees it.

The check costs two `bytes.count` calls for ordinary bodies: a document cannot be deeper than
its number of opening brackets, so only bodies with more than `MAX_JSON_DEPTH` of them are
scanned (strings removed first, so brackets inside strings do not count).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from chain.errors import MalformedInput, OversizedInput

MAX_JSON_DEPTH = 64  # our deepest document (a JSON-RPC batch of eth_call objects) is 4 levels
MAX_JSON_BYTES = 8 * 1024 * 1024  # the largest body any route takes (a batch of 64 payloads)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in `data` (an upper bound for invalid JSON)."""
    openings = data.count(b"[") + data.count(b"{")
    if openings <= MAX_JSON_DEPTH:
        return openings
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    return max(accumulate(_STEPS[byte] for byte in brackets), default=0)


def require_shallow(data: bytes, what: str = "body", max_depth: int = MAX_JSON_DEPTH) -> None:
    """MalformedInput if `data` nests deeper than `max_depth` (it is not decoded here)."""
    if json_depth(data) > max_depth:
        raise MalformedInput(f"{what} must be JSON nested at most {max_depth} levels deep",
                             field=what)


def decode_json(data: bytes | str, what: str = "body", max_bytes: int = MAX_JSON_BYTES,
                max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document; OversizedInput or MalformedInput naming what was expected."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise OversizedInput(f"{what} is {len(raw)} bytes; at most {max_bytes} are accepted",
                             field=what)
    require_shallow(raw, what, max_depth)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedInput(f"{what} must be JSON: {error}", field=what) from error
