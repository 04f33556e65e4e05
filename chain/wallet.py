"""Signing on the institution's side: transactions and enterprise grants.

The same bytes web3.py or ethers.js would produce (EIP-155 legacy and EIP-1559 type 2), built
with the project's RLP codec and coincurve, so tests, the demo, the client and the load
generator sign quickly without eth_account.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain import rlp_codec
from chain.crypto import Address, PrivateKey, keccak
from chain.transactions import DYNAMIC_FEE_TYPE

DEFAULT_GAS = 2_000_000


def sign_legacy(key: PrivateKey, chain_id: int, nonce: int, to: Address, data: bytes,
                gas: int = DEFAULT_GAS, gas_price: int = 0) -> bytes:
    """A signed EIP-155 legacy transaction calling `to` with `data`."""
    fields: list[rlp_codec.RlpItem] = [
        rlp_codec.encode_int(nonce), rlp_codec.encode_int(gas_price), rlp_codec.encode_int(gas),
        to, b"", data,
    ]
    signing_hash = keccak(rlp_codec.encode([*fields, rlp_codec.encode_int(chain_id), b"", b""]))
    y_parity, r, s = key.sign_hash(signing_hash)
    return rlp_codec.encode([
        *fields, rlp_codec.encode_int(chain_id * 2 + 35 + y_parity),
        rlp_codec.encode_int(r), rlp_codec.encode_int(s),
    ])


def sign_dynamic_fee(key: PrivateKey, chain_id: int, nonce: int, to: Address, data: bytes,
                     gas: int = DEFAULT_GAS, max_fee_per_gas: int = 0,
                     max_priority_fee_per_gas: int = 0) -> bytes:
    """A signed EIP-1559 (type 2) transaction with an empty access list."""
    fields: list[rlp_codec.RlpItem] = [
        rlp_codec.encode_int(chain_id), rlp_codec.encode_int(nonce),
        rlp_codec.encode_int(max_priority_fee_per_gas), rlp_codec.encode_int(max_fee_per_gas),
        rlp_codec.encode_int(gas), to, b"", data, [],
    ]
    signing_hash = keccak(bytes((DYNAMIC_FEE_TYPE,)) + rlp_codec.encode(fields))
    y_parity, r, s = key.sign_hash(signing_hash)
    return bytes((DYNAMIC_FEE_TYPE,)) + rlp_codec.encode([
        *fields, rlp_codec.encode_int(y_parity), rlp_codec.encode_int(r),
        rlp_codec.encode_int(s),
    ])


@dataclass(frozen=True, slots=True)
class EnterpriseSignature:
    """An enterprise's signature over an EIP-712 digest, in the form the contract takes."""

    v: int
    r: bytes
    s: bytes


def sign_digest(key: PrivateKey, digest: bytes) -> EnterpriseSignature:
    """Sign a 32-byte EIP-712 digest (v is 27 or 28, as ecrecover expects)."""
    y_parity, r, s = key.sign_hash(digest)
    return EnterpriseSignature(v=27 + y_parity, r=r.to_bytes(32, "big"), s=s.to_bytes(32, "big"))
