"""EIP-712 digests of the enterprise signatures that Authorization checks.

Pure computation, no key handling: the digest here is what the enterprise's key signs and what
`Authorization.grant` / `revoke_grant` recover the signer from. `grant_typed_data` and
`revocation_typed_data` give the same messages in the JSON form wallets sign
(`eth_sign_typedData_v4`, eth_account's `encode_typed_data(full_message=...)`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from contracts.words import encode_static_words

DOMAIN_NAME = "yrdchain Authorization"
DOMAIN_VERSION = "1"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
GRANT_TYPE = (
    "Grant(bytes32 enterprise,address querier,uint256 scope,uint256 expiresAt,uint256 nonce)"
)
REVOCATION_TYPE = "Revocation(bytes32 enterprise,address querier,uint256 nonce)"
EIP712_PREFIX = b"\x19\x01"
_HASH_DOMAIN_TYPE = keccak(text=DOMAIN_TYPE)
_HASH_GRANT_TYPE = keccak(text=GRANT_TYPE)
_HASH_REVOCATION_TYPE = keccak(text=REVOCATION_TYPE)


@lru_cache(maxsize=64)
def domain_separator(chain_id: int, authorization_address: bytes) -> bytes:
    """The EIP-712 domain separator of the Authorization contract on chain `chain_id` (a chain
    has one: it is computed once)."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _HASH_DOMAIN_TYPE,
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                authorization_address,
            ],
        )
    )


def _encode(abi_types: list[str], values: list[Any]) -> bytes:
    """ABI encoding of a struct's static fields (by hand when it can, `eth_abi` otherwise)."""
    words = encode_static_words(abi_types, values)
    return words if words is not None else encode(abi_types, values)


def _digest(chain_id: int, authorization_address: bytes, struct_hash: bytes) -> bytes:
    return keccak(EIP712_PREFIX + domain_separator(chain_id, authorization_address) + struct_hash)


def grant_digest(
    chain_id: int,
    authorization_address: bytes,
    enterprise: bytes,
    querier: bytes,
    scope: int,
    expires_at: int,
    nonce: int,
) -> bytes:
    """The 32-byte digest an enterprise signs to grant `querier` access to `scope`."""
    struct_hash = keccak(_encode(
        ["bytes32", "bytes32", "address", "uint256", "uint256", "uint256"],
        [_HASH_GRANT_TYPE, enterprise, querier, scope, expires_at, nonce]))
    return _digest(chain_id, authorization_address, struct_hash)


def revocation_digest(
    chain_id: int,
    authorization_address: bytes,
    enterprise: bytes,
    querier: bytes,
    nonce: int,
) -> bytes:
    """The 32-byte digest an enterprise signs to revoke its grant to `querier`."""
    struct_hash = keccak(_encode(["bytes32", "bytes32", "address", "uint256"],
                                 [_HASH_REVOCATION_TYPE, enterprise, querier, nonce]))
    return _digest(chain_id, authorization_address, struct_hash)


def _domain(chain_id: int, authorization_address: bytes) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(authorization_address),
    }


_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _typed_data(primary: str, chain_id: int, authorization_address: bytes,
                message: dict[str, Any]) -> dict[str, Any]:
    """EIP-712 JSON typed data of one message; field types follow the message's own order."""
    types = {"enterprise": "bytes32", "querier": "address", "scope": "uint256",
             "expiresAt": "uint256", "nonce": "uint256"}
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            primary: [{"name": name, "type": types[name]} for name in message],
        },
        "primaryType": primary,
        "domain": _domain(chain_id, authorization_address),
        "message": message,
    }


def grant_typed_data(
    chain_id: int,
    authorization_address: bytes,
    enterprise: bytes,
    querier: bytes,
    scope: int,
    expires_at: int,
    nonce: int,
) -> dict[str, Any]:
    """The grant as EIP-712 JSON typed data, for wallets and web3 clients."""
    return _typed_data("Grant", chain_id, authorization_address, {
        "enterprise": enterprise, "querier": to_checksum_address(querier), "scope": scope,
        "expiresAt": expires_at, "nonce": nonce,
    })


def revocation_typed_data(
    chain_id: int,
    authorization_address: bytes,
    enterprise: bytes,
    querier: bytes,
    nonce: int,
) -> dict[str, Any]:
    """The revocation as EIP-712 JSON typed data, for wallets and web3 clients."""
    return _typed_data("Revocation", chain_id, authorization_address, {
        "enterprise": enterprise, "querier": to_checksum_address(querier), "nonce": nonce,
    })
