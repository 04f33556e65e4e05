"""Replay protection and request verification for signed reads.

`RequestVerifier.verify` parses the three headers, checks the timestamp window, recovers the
signer once (EIP-191, coincurve) and refuses a nonce the signer already used within the window
(`ReplayGuard`, bounded). Time comes in as `now_ms`; nothing here reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from chain.crypto import Address
from chain.errors import RateLimited, ReplayedRequest, StaleRequest
from chain.query.signing import parse_request_signature, recover_request_signer

REQUEST_WINDOW_MS = 30_000  # a signed request is accepted this long before and after its time
MAX_REMEMBERED_NONCES = 500_000  # 2 windows at 4,000 queries/s; beyond it new requests wait


class ReplayGuard:
    """Nonces seen per signer within the window, forgotten in insertion order (bounded)."""

    def __init__(self, window_ms: int = REQUEST_WINDOW_MS,
                 capacity: int = MAX_REMEMBERED_NONCES) -> None:
        self.window_ms = window_ms
        self.capacity = capacity
        self._seen: OrderedDict[tuple[bytes, str], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def check_time(self, timestamp_ms: int, now_ms: int) -> None:
        """StaleRequest unless the timestamp is within the window around `now_ms`."""
        skew = timestamp_ms - now_ms
        if abs(skew) > self.window_ms:
            raise StaleRequest(
                f"request timestamp {timestamp_ms} is {skew / 1000:+.1f} s from the node's "
                f"clock; at most {self.window_ms / 1000:g} s either way is accepted",
                field="x-yrd-timestamp")

    def remember(self, signer: Address, nonce: str, now_ms: int) -> None:
        """Record a nonce; ReplayedRequest if the signer used it within the window."""
        # An entry may go once its request's timestamp left the window: its insertion time
        # (at most one window after that timestamp) plus two windows.
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest + 2 * self.window_ms >= now_ms:
                break
            self._seen.popitem(last=False)
        key = (signer, nonce)
        if key in self._seen:
            raise ReplayedRequest(
                f"nonce {nonce!r} was already used by 0x{signer.hex()}; sign each request "
                "with a fresh nonce", field="x-yrd-nonce")
        if len(self._seen) >= self.capacity:
            raise RateLimited("the node's replay cache is full; retry in a few seconds",
                              field="x-yrd-nonce")
        self._seen[key] = now_ms


class RequestVerifier:
    """Checks signed requests addressed to one node of one chain."""

    def __init__(self, chain_id: int, node_id: str, guard: ReplayGuard | None = None) -> None:
        self.chain_id = chain_id
        self.node_id = node_id
        self.guard = guard or ReplayGuard()
        self.verifications = 0

    def verify(self, method: str, path: str, headers: Mapping[str, str], now_ms: int) -> Address:
        """The signer of a request; Unauthenticated, StaleRequest, BadSignature or Replayed."""
        signer, nonce = self.authenticate(method, path, headers, now_ms)
        self.guard.remember(signer, nonce, now_ms)
        return signer

    def authenticate(self, method: str, path: str, headers: Mapping[str, str],
                     now_ms: int) -> tuple[Address, str]:
        """The signer and nonce of a request whose nonce is not yet checked (a read worker
        sends it to its node's one replay guard); Unauthenticated, StaleRequest or
        BadSignature."""
        signed = parse_request_signature(headers.get("x-yrd-timestamp"),
                                         headers.get("x-yrd-nonce"),
                                         headers.get("x-yrd-signature"))
        self.guard.check_time(signed.timestamp_ms, now_ms)
        self.verifications += 1
        return recover_request_signer(self.chain_id, self.node_id, method, path,
                                      signed), signed.nonce
