"""One hierarchy of errors for the core: each says what was expected and what came.

They are plain (not frozen) dataclasses because Python sets `__traceback__` on raise.

Errors are values with fields. `nodes/` maps them to HTTP status codes in one place
(`nodes/api/http_io.py`) through the `http_status` attribute and the `code` string, so a
client always gets the same answer for the same mistake.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class YrdError(Exception):
    """Base of every refusal the core can give.

    `code` is a stable machine-readable name, `message` says what was expected and what came,
    `field` names the input that was wrong when there is one.
    """

    message: str
    field: str | None = None

    code = "error"
    http_status = 400

    def __str__(self) -> str:
        return self.message


# Input that cannot be decoded or does not have the expected shape (stateless).
@dataclass(eq=False)
class MalformedInput(YrdError):
    """Bytes, hex or JSON that do not decode into what was expected."""

    code = "malformed_input"


@dataclass(eq=False)
class InvalidCreditCode(YrdError):
    """A Unified Social Credit Code that fails GB 32100-2015 (characters, check, region)."""

    code = "invalid_credit_code"


@dataclass(eq=False)
class OversizedInput(YrdError):
    """A transaction, body or payload above its named limit."""

    code = "oversized"
    http_status = 413


@dataclass(eq=False)
class WrongChainId(YrdError):
    """A transaction signed for another chain (EIP-155 / EIP-1559 chain id)."""

    code = "wrong_chain_id"


@dataclass(eq=False)
class BadSignature(YrdError):
    """A signature that does not recover, or recovers to someone other than expected."""

    code = "bad_signature"
    http_status = 401


@dataclass(eq=False)
class UnsupportedTransaction(YrdError):
    """A transaction type, target or field value the chain does not accept."""

    code = "unsupported_transaction"


# Stateful refusals: the input is well-formed but the ledger says no.
@dataclass(eq=False)
class NotAMember(YrdError):
    """The sender is not an admitted institution of the consortium."""

    code = "not_a_member"
    http_status = 403


@dataclass(eq=False)
class MemberSuspended(YrdError):
    """The sender was admitted but is suspended or removed."""

    code = "member_suspended"
    http_status = 403


@dataclass(eq=False)
class MissingRole(YrdError):
    """The sender is a member but lacks the role this call needs."""

    code = "missing_role"
    http_status = 403


@dataclass(eq=False)
class NonceTooLow(YrdError):
    """A replayed transaction: its nonce was already used by the sender."""

    code = "nonce_too_low"
    http_status = 409


@dataclass(eq=False)
class NonceGap(YrdError):
    """A nonce further ahead than the mempool accepts for one sender."""

    code = "nonce_gap"
    http_status = 409


@dataclass(eq=False)
class DuplicateTransaction(YrdError):
    """The same transaction hash is already known."""

    code = "duplicate_transaction"
    http_status = 409


@dataclass(eq=False)
class MempoolFull(YrdError):
    """The mempool is at its bound and the transaction did not displace anyone."""

    code = "mempool_full"
    http_status = 503


@dataclass(eq=False)
class UnknownEnterprise(YrdError):
    """No enterprise with that credit code is known to the ledger."""

    code = "unknown_enterprise"
    http_status = 404


@dataclass(eq=False)
class NotFound(YrdError):
    """A block, transaction, record or dispute that does not exist."""

    code = "not_found"
    http_status = 404


@dataclass(eq=False)
class ConsentMissing(YrdError):
    """The querier holds no unexpired, unrevoked grant from the enterprise."""

    code = "consent_missing"
    http_status = 403


@dataclass(eq=False)
class InvalidBlock(YrdError):
    """A block that fails validation: parent, height, roots, or an inadmissible transaction."""

    code = "invalid_block"
    http_status = 422


@dataclass(eq=False)
class ExecutionReverted(YrdError):
    """A contract call that reverted; `message` carries the contract's reason."""

    code = "execution_reverted"
    http_status = 422


# Refusals of signed requests and of the node's HTTP edge ----------------------------------
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


@dataclass(eq=False)
class NodeUnavailable(YrdError):
    """A read worker could not reach its node's process (restarting, or overloaded)."""

    code = "node_unavailable"
    http_status = 503
