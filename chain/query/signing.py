"""Signed requests: the canonical text an institution or enterprise signs to read from a node.

The scheme (docs/spec/api.md, ADR 0004) is EIP-191 `personal_sign` over a short canonical text,
so any Ethereum wallet (ethers `signMessage`, web3.py / eth-account `encode_defunct`, MetaMask)
can sign it and the node recovers the signer's address with one secp256k1 recovery:

    yrdchain request v1
    chain: 7304
    node: hangzhou-1
    method: GET
    path: /v1/enterprises/91310115000010014X/report
    timestamp: 1734567890123
    nonce: 5f1c0b9e2d7a4c18

`path` is the request target exactly as sent (path and, if any, `?` and the query string).
The headers `X-Yrd-Timestamp`, `X-Yrd-Nonce` and `X-Yrd-Signature` carry the timestamp (Unix
milliseconds), the nonce (8 to 64 characters of `A-Z a-z 0-9 _ -`) and the 65-byte signature
`r || s || v` in hex (v is 27 or 28, or 0 or 1). Naming the chain and the node stops a captured
signature from being replayed on another chain or at another node; the node's nonce cache and
timestamp window stop it being replayed at the same node.

Pure functions only: the client, the node and the simulator import this module. Nonces come
in as values (`nodes.query.request_signing.new_nonce` draws fresh ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chain.crypto import Address, PrivateKey, keccak, recover_address
from chain.errors import Unauthenticated

SCHEME_HEADER_LINE = "yrdchain request v1"
TIMESTAMP_HEADER = "x-yrd-timestamp"
NONCE_HEADER = "x-yrd-nonce"
SIGNATURE_HEADER = "x-yrd-signature"
SIGNATURE_BYTES = 65  # r (32) || s (32) || v (1)
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_TIMESTAMP_DIGITS = 16  # Unix milliseconds until the year 318857
EIP191_PREFIX = b"\x19Ethereum Signed Message:\n"


@dataclass(frozen=True, slots=True)
class RequestSignature:
    """What the three headers of a signed request carry, parsed."""

    timestamp_ms: int
    nonce: str
    y_parity: int
    r: int
    s: int


def canonical_request(chain_id: int, node_id: str, method: str, path: str, timestamp_ms: int,
                      nonce: str) -> str:
    """The text that is signed, one `name: value` line per field after the scheme line."""
    return (f"{SCHEME_HEADER_LINE}\nchain: {chain_id}\nnode: {node_id}\n"
            f"method: {method.upper()}\npath: {path}\ntimestamp: {timestamp_ms}\nnonce: {nonce}")


def personal_message_hash(message: bytes) -> bytes:
    """EIP-191 version 0x45: keccak("\\x19Ethereum Signed Message:\\n" + len + message)."""
    return keccak(EIP191_PREFIX + str(len(message)).encode("ascii") + message)


def parse_request_signature(timestamp: str | None, nonce: str | None,
                            signature: str | None) -> RequestSignature:
    """Parse the three headers; Unauthenticated saying which one is missing or malformed."""
    if timestamp is None or nonce is None or signature is None:
        missing = [name for name, value in ((TIMESTAMP_HEADER, timestamp), (NONCE_HEADER, nonce),
                                            (SIGNATURE_HEADER, signature)) if value is None]
        raise Unauthenticated(
            f"a signed request needs the headers {', '.join(missing)} (see docs/spec/api.md)",
            field=missing[0])
    if not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be Unix milliseconds as decimal digits",
                              field=TIMESTAMP_HEADER)
    if NONCE_PATTERN.fullmatch(nonce) is None:
        raise Unauthenticated(f"{NONCE_HEADER} must be 8 to 64 characters of A-Z a-z 0-9 _ -",
                              field=NONCE_HEADER)
    text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != SIGNATURE_BYTES:
        raise Unauthenticated(f"{SIGNATURE_HEADER} must be 0x followed by 130 hex digits "
                              "(r || s || v)", field=SIGNATURE_HEADER)
    v = raw[64]
    if v not in (0, 1, 27, 28):
        raise Unauthenticated(f"signature v must be 27 or 28 (or 0 or 1), got {v}",
                              field=SIGNATURE_HEADER)
    return RequestSignature(int(timestamp), nonce, v - 27 if v >= 27 else v,
                            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))


def recover_request_signer(chain_id: int, node_id: str, method: str, path: str,
                           signed: RequestSignature) -> Address:
    """The address that signed this request (BadSignature, 401, if none recovers)."""
    message = canonical_request(chain_id, node_id, method, path, signed.timestamp_ms,
                                signed.nonce).encode("utf-8")
    return recover_address(personal_message_hash(message), signed.y_parity, signed.r, signed.s)


def sign_request(key: PrivateKey, chain_id: int, node_id: str, method: str, path: str,
                 timestamp_ms: int, nonce: str) -> dict[str, str]:
    """The three headers of a signed request, signed with `key` (what the client sends)."""
    message = canonical_request(chain_id, node_id, method, path, timestamp_ms, nonce)
    y_parity, r, s = key.sign_hash(personal_message_hash(message.encode("utf-8")))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((27 + y_parity,))
    return {TIMESTAMP_HEADER: str(timestamp_ms), NONCE_HEADER: nonce,
            SIGNATURE_HEADER: "0x" + signature.hex()}
