"""Path parameters of the API: their patterns in the OpenAPI schema and their strict parsing.

The pattern is published in the schema (clients and schema-driven fuzzers see what is valid);
the value is parsed here or by the route's own parser, so a malformed parameter is a 400
`malformed_input` naming the parameter, never a silently normalised value (`%204`, `+4` and
`04` are not height 4).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path

from chain.errors import MalformedInput

HEIGHT_PATTERN = r"^(0|[1-9][0-9]{0,31})$"
HASH32_PATTERN = r"^0x[0-9a-fA-F]{64}$"
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
AUDIT_ENTRY_PATTERN = r"^[a-z0-9-]{1,64}\.[1-9][0-9]{0,18}$"
_HEIGHT = re.compile(HEIGHT_PATTERN)


def _path(pattern: str, description: str) -> object:
    return Path(description=description, json_schema_extra={"pattern": pattern})


HeightParam = Annotated[str, _path(HEIGHT_PATTERN, "block height: decimal, no sign or padding")]
Hash32Param = Annotated[str, _path(HASH32_PATTERN, "32 bytes as 0x-prefixed hex")]
CreditCodeParam = Annotated[str, _path(CREDIT_CODE_PATTERN,
                                       "18-character Unified Social Credit Code")]
AuditEntryParam = Annotated[str, _path(AUDIT_ENTRY_PATTERN,
                                       "audit entry id: <node-id>.<sequence>")]


def parse_height(text: str, field: str = "height") -> int:
    """A block height written canonically; MalformedInput otherwise."""
    if not _HEIGHT.fullmatch(text):
        raise MalformedInput(f"{field} must be a decimal number without sign, spaces or leading "
                             f"zeros, got {text[:32]!r}", field=field)
    return int(text)
