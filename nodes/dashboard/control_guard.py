"""Who may use the dashboard's control routes: the holder of the network's control token.

A network started with control on (`yrdchain up --control`) gets one random token, written into
every node's `node.toml` and printed at start-up with the dashboard's address
(`…/dashboard#control=TOKEN`; the page keeps it out of the server's logs by reading it from the
fragment). A control request must:

- carry the token in the `X-Yrd-Control` header (compared in constant time);
- be JSON (`Content-Type: application/json`): with the custom header this makes any cross-site
  request a CORS preflight, which the node never approves;
- come from no browser origin (command-line clients, peer nodes) or from one of this network's
  own node addresses.

So a form posted from another site, or any request without the token, changes nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chain.errors import YrdError

CONTROL_HEADER = "x-yrd-control"


@dataclass(frozen=True, slots=True)
class ControlRefusal:
    """Why a control request is refused: HTTP status, message and the header at fault."""

    status: int
    message: str
    field: str


@dataclass(eq=False)
class ControlRefused(YrdError):
    """A control request without the token, from a foreign origin or not JSON (403 or 415)."""

    status: int = 403
    code = "forbidden"

    def __post_init__(self) -> None:
        self.http_status = self.status  # type: ignore[misc]


def allowed_origins(node_urls: Iterable[str]) -> frozenset[str]:
    """The browser origins of the network's own nodes (the page is served by any of them)."""
    origins = set()
    for url in node_urls:
        origins.add(url.rstrip("/"))
        origins.add(url.rstrip("/").replace("://127.0.0.1:", "://localhost:"))
    return frozenset(origins)


def check_control_request(headers: Mapping[str, str], token: str,
                          origins: frozenset[str]) -> ControlRefusal | None:
    """None when the request may control the network; the refusal otherwise."""
    if not token:
        return ControlRefusal(403, "this node has no control token: start the network with "
                                   "`yrdchain up --control`", CONTROL_HEADER)
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") not in origins:
        return ControlRefusal(403, f"control requests from the origin {origin[:80]!r} are "
                                   "refused", "origin")
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return ControlRefusal(415, "control requests are JSON (Content-Type: application/json)",
                              "content-type")
    offered = headers.get(CONTROL_HEADER, "")
    if not hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8")):
        return ControlRefusal(403, "control needs the token printed when the network started "
                                   f"(header {CONTROL_HEADER})", CONTROL_HEADER)
    return None
