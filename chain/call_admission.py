"""Admission of a call's arguments: what a transaction asks for must be valid before it is queued.

`chain.admission` checks who may call what with which nonce; this module checks the arguments of
the calls whose failure would otherwise only show as a revert after the sender's nonce is burnt:

- record writes (`publish`, `publish_batch`, `register_enterprise`) name valid Unified Social
  Credit Codes (GB 32100-2015: characters, check character, region);
- an enterprise's signed grant or revocation verifies: v is 27 or 28, s is low (EIP-2), the
  signer is the enterprise's registered key, the enterprise is known, its nonce follows the
  enterprise's committed and pending grant nonces, a grant is not expired at chain time and its
  scope names record kinds.

Every entry route (REST, JSON-RPC, peer gossip) reaches these checks through
`Ledger.check_admissible`, so both execution engines receive the same admitted transactions.
The signer recovered here is kept in a `GrantSignerCache` by the EIP-712 digest, so execution
(or a second look at the same grant) does not recover it again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.abi_memo import decode_remembered
from chain.crypto import Address, recover_address
from chain.enterprise import enterprise_from_bytes32
from chain.errors import BadSignature, MalformedInput, NonceGap, NonceTooLow, UnknownEnterprise
from contracts import bindings
from contracts.constants import ALL_KINDS_SCOPE
from contracts.words import decode_static_words

GRANT_SIGNER_CACHE_ENTRIES = 65_536  # about 5 MiB; one entry per distinct grant seen
GRANT_FUNCTIONS = ("grant", "revoke_grant")
RECORD_FUNCTIONS = ("publish", "publish_batch", "register_enterprise")
SIGNATURE_V_VALUES = (27, 28)


@dataclass(frozen=True, slots=True)
class GrantClaim:
    """An enterprise signature carried by a `grant` or `revoke_grant` call.

    enterprise: bytes32 credit code; querier: who is granted (the sender for `grant`); nonce: the
    enterprise's grant nonce it spends; expires_at_s: 0 for a revocation; digest: the EIP-712
    digest the enterprise signed.
    """

    function: str
    enterprise: bytes
    querier: Address
    scope: int
    expires_at_s: int
    nonce: int
    v: int
    r: int
    s: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class GrantState:
    """What the chain says about the enterprise of a claim (read by the ledger at its head).

    key: the enterprise's registered key (None: unknown enterprise); next_nonce: its committed
    grant nonce plus the contiguous grant nonces already pending; chain_time_s: the head block's
    timestamp in seconds.
    """

    key: Address | None
    next_nonce: int
    chain_time_s: int


class GrantSignerCache:
    """Signers of enterprise signatures by EIP-712 digest and signature (bounded, LRU)."""

    def __init__(self, capacity: int = GRANT_SIGNER_CACHE_ENTRIES) -> None:
        self._capacity = capacity
        self._signers: OrderedDict[tuple[bytes, int, int, int], Address] = OrderedDict()
        self.recoveries = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._signers)

    def signer(self, claim: GrantClaim) -> Address:
        """The claim's signer, recovered once; BadSignature for a malformed signature."""
        key = (claim.digest, claim.v, claim.r, claim.s)
        cached = self._signers.get(key)
        if cached is not None:
            self.hits += 1
            self._signers.move_to_end(key)
            return cached
        if claim.v not in SIGNATURE_V_VALUES:
            raise BadSignature(f"the enterprise signature's v must be 27 or 28, got {claim.v}",
                               field="v")
        signer = recover_address(claim.digest, claim.v - 27, claim.r, claim.s)
        self.recoveries += 1
        self._signers[key] = signer
        while len(self._signers) > self._capacity:
            self._signers.popitem(last=False)
        return signer

    def known(self, digest: bytes, v: int, r: int, s: int) -> Address | None:
        """A signer recovered before, without recovering (what an execution engine asks)."""
        return self._signers.get((digest, v, r, s))


def decode_arguments(function: bindings.ContractFunction, calldata: bytes) -> tuple[Any, ...]:
    """The ABI-decoded arguments of a call; MalformedInput if the calldata does not decode."""
    words = decode_static_words(function.input_types, bytes(calldata[4:]))
    if words is not None:
        return words
    try:
        return decode_remembered(tuple(function.input_types), bytes(calldata[4:]))
    except Exception as error:  # eth_abi raises several unrelated types for bad calldata
        raise MalformedInput(f"calldata of {function.name} does not decode: {error}",
                             field="raw") from error


def check_credit_codes(function: str, calldata: bytes) -> None:
    """Every enterprise a record write names is a valid credit code; InvalidCreditCode if not.

    `publish` and `register_enterprise` take static arguments, so the enterprise is read at its
    offset without decoding the rest (publish is the hot path).
    """
    if function == "publish":
        enterprise_from_bytes32(bytes(calldata[36:68]))
    elif function == "register_enterprise":
        enterprise_from_bytes32(bytes(calldata[4:36]))
    elif function == "publish_batch":
        arguments = decode_arguments(bindings.function_for(calldata), calldata)
        for enterprise in arguments[1]:
            enterprise_from_bytes32(bytes(enterprise))


def grant_claim(function: str, arguments: Sequence[Any], sender: Address, chain_id: int,
                authorization: Address) -> GrantClaim | None:
    """The enterprise signature a call carries, with its digest; None for other calls."""
    if function == "grant":
        enterprise, scope, expires_at, nonce, v, r, s = arguments
        querier = sender
        digest = bindings.grant_digest(chain_id, authorization, bytes(enterprise), querier,
                                       int(scope), int(expires_at), int(nonce))
    elif function == "revoke_grant":
        enterprise, querier_text, nonce, v, r, s = arguments
        querier = bytes.fromhex(str(querier_text)[2:])
        scope, expires_at = 0, 0
        digest = bindings.revocation_digest(chain_id, authorization, bytes(enterprise), querier,
                                            int(nonce))
    else:
        return None
    return GrantClaim(function, bytes(enterprise), querier, int(scope), int(expires_at),
                      int(nonce), int(v), int.from_bytes(bytes(r), "big"),
                      int.from_bytes(bytes(s), "big"), digest)


def check_grant_claim(claim: GrantClaim, signer: Address, state: GrantState) -> None:
    """The claim would pass `Authorization.grant` / `revoke_grant`'s signature, nonce and expiry
    checks at the head; a specific 4xx error otherwise."""
    if claim.function == "grant":
        if claim.scope == 0 or claim.scope & ALL_KINDS_SCOPE != claim.scope:
            raise MalformedInput(f"grant scope {claim.scope:#x} names no record kind or an "
                                 f"unknown one (kinds are bits of {ALL_KINDS_SCOPE:#x})",
                                 field="scope")
        if claim.expires_at_s <= state.chain_time_s:
            raise MalformedInput(f"the grant expired at {claim.expires_at_s}; chain time is "
                                 f"{state.chain_time_s}", field="expires_at")
    if state.key is None:
        name = claim.enterprise.rstrip(bytes(1)).decode("ascii", "replace")
        raise UnknownEnterprise(f"enterprise {name} has no registered key on chain",
                                field="enterprise")
    if signer != state.key:
        raise BadSignature(f"the enterprise signature recovers 0x{signer.hex()}, not the "
                           f"enterprise's key 0x{state.key.hex()}", field="signature")
    if claim.nonce < state.next_nonce:
        raise NonceTooLow(f"grant nonce {claim.nonce} was already used or is pending; the "
                          f"enterprise's next grant nonce is {state.next_nonce}",
                          field="grant_nonce")
    if claim.nonce > state.next_nonce:
        raise NonceGap(f"grant nonce {claim.nonce} leaves a gap; the enterprise's next grant "
                       f"nonce is {state.next_nonce}", field="grant_nonce")
