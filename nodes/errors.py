"""Refusals that only the node's HTTP edge can give, in the core's one error hierarchy.

They subclass `chain.errors.YrdError`, so `nodes.app.error_response` maps them like every other
error: `{error, message, field}` with the status named here.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.errors import YrdError


@dataclass(eq=False)
class Unauthenticated(YrdError):
    """A signed request without the signature headers, or with malformed ones."""

    code = "unauthenticated"
    http_status = 401


@dataclass(eq=False)
class StaleRequest(YrdError):
    """A signed request whose timestamp is outside the node's acceptance window."""

    code = "stale_request"
    http_status = 401


@dataclass(eq=False)
class ReplayedRequest(YrdError):
    """A signed request whose nonce this signer already used within the window."""

    code = "replayed_request"
    http_status = 401


@dataclass(eq=False)
class Forbidden(YrdError):
    """The signer is known but may not read this resource (not its enterprise, no role)."""

    code = "forbidden"
    http_status = 403


@dataclass(eq=False)
class RateLimited(YrdError):
    """The institution sent more requests than its per-second allowance."""

    code = "rate_limited"
    http_status = 429


@dataclass(eq=False)
class NotAnchored(YrdError):
    """An audit entry whose batch is not anchored on chain yet (batches anchor every second)."""

    code = "not_anchored"
    http_status = 409


@dataclass(eq=False)
class WrongFunction(YrdError):
    """A transaction posted to a route that takes another contract function."""

    code = "wrong_function"
    http_status = 422
