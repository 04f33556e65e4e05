"""The client side of signed requests: fresh nonces around the core's signing scheme.

The scheme itself (canonical text, EIP-191 hash, header parsing, recovery) is pure and lives in
`chain.query.signing`; this module only adds what needs randomness.
"""

from __future__ import annotations

import secrets

from chain.crypto import PrivateKey
from chain.query.signing import sign_request as sign_request_with_nonce


def new_nonce() -> str:
    """A fresh random request nonce (16 bytes of hex)."""
    return secrets.token_hex(16)


def sign_request(key: PrivateKey, chain_id: int, node_id: str, method: str, path: str,
                 timestamp_ms: int, nonce: str | None = None) -> dict[str, str]:
    """The three headers of a signed request, with a fresh nonce unless one is given."""
    return sign_request_with_nonce(key, chain_id, node_id, method, path, timestamp_ms,
                                   nonce or new_nonce())
