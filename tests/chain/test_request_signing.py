"""The signed-request scheme: canonical text, EIP-191 compatibility, header parsing."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chain.crypto import derive_private_key
from chain.errors import BadSignature, Unauthenticated
from chain.query.signing import (
    canonical_request,
    parse_request_signature,
    recover_request_signer,
    sign_request,
)

KEY = derive_private_key(b"request-signing-test")
PATH = "/v1/enterprises/91310115000010014X/report"


def test_canonical_text_names_every_field_on_its_own_line() -> None:
    text = canonical_request(7304, "hangzhou-1", "get", PATH, 1_700_000_000_000, "abcdefgh")
    assert text.splitlines() == [
        "yrdchain request v1", "chain: 7304", "node: hangzhou-1", "method: GET",
        f"path: {PATH}", "timestamp: 1700000000000", "nonce: abcdefgh"]


def test_signed_headers_recover_to_the_signer() -> None:
    headers = sign_request(KEY, 7304, "hangzhou-1", "GET", PATH, 1_700_000_000_000, "nonce-001")
    signed = parse_request_signature(headers["x-yrd-timestamp"], headers["x-yrd-nonce"],
                                     headers["x-yrd-signature"])
    assert recover_request_signer(7304, "hangzhou-1", "GET", PATH, signed) == KEY.address


def test_a_wallet_personal_sign_is_accepted() -> None:
    """eth_account's encode_defunct + sign_message is what MetaMask or ethers signMessage do."""
    text = canonical_request(7304, "hangzhou-1", "GET", PATH, 1_700_000_000_000, "wallet-01")
    signature = Account.sign_message(encode_defunct(text=text), KEY.secret).signature
    signed = parse_request_signature("1700000000000", "wallet-01", "0x" + bytes(signature).hex())
    assert recover_request_signer(7304, "hangzhou-1", "GET", PATH, signed) == KEY.address


@pytest.mark.parametrize("chain, node, method, path", [
    (7304, "shanghai-1", "GET", PATH), (7304, "hangzhou-1", "GET", PATH + "?x=1"),
    (7305, "hangzhou-1", "GET", PATH), (7304, "hangzhou-1", "POST", PATH)])
def test_any_other_request_recovers_someone_else(chain: int, node: str, method: str,
                                                 path: str) -> None:
    headers = sign_request(KEY, 7304, "hangzhou-1", "GET", PATH, 1_700_000_000_000, "nonce-002")
    signed = parse_request_signature(headers["x-yrd-timestamp"], headers["x-yrd-nonce"],
                                     headers["x-yrd-signature"])
    try:
        signer = recover_request_signer(chain, node, method, path, signed)
    except BadSignature:
        return
    assert signer != KEY.address


@pytest.mark.parametrize("timestamp, nonce, signature, field", [
    (None, "abcdefgh", "0x" + "11" * 65, "x-yrd-timestamp"),
    ("12x", "abcdefgh", "0x" + "11" * 65, "x-yrd-timestamp"),
    ("1", "short", "0x" + "11" * 65, "x-yrd-nonce"),
    ("1", "has space!", "0x" + "11" * 65, "x-yrd-nonce"),
    ("1", "abcdefgh", "0x1234", "x-yrd-signature"),
    ("1", "abcdefgh", "0x" + "zz" * 65, "x-yrd-signature"),
    ("1", "abcdefgh", "0x" + "11" * 64 + "05", "x-yrd-signature"),
])
def test_malformed_headers_are_unauthenticated(timestamp: str | None, nonce: str,
                                               signature: str, field: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        parse_request_signature(timestamp, nonce, signature)
    assert refused.value.field == field
    assert refused.value.http_status == 401
