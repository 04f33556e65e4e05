"""secp256k1 for institutions (Ethereum-compatible) and keccak, on coincurve only.

The pure-Python fallback of eth_keys is about 100 times slower than coincurve; `require_coincurve`
fails loudly if it would be used, and every node calls it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import coincurve
import sha3
from coincurve.context import GLOBAL_CONTEXT

from chain.errors import BadSignature

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_ORDER = SECP256K1_ORDER // 2

Address = bytes  # 20 bytes


def keccak(data: bytes) -> bytes:
    """keccak-256 of `data` (safe-pysha3: about 2 µs, five times eth_hash's default backend)."""
    digest: bytes = sha3.keccak_256(data).digest()
    return digest


class Secp256k1BackendMissing(RuntimeError):
    """coincurve is not what eth_keys would use: signatures would run 100x slower."""


def require_coincurve() -> str:
    """Check that eth_keys (used by py-evm's ecrecover precompile) runs on coincurve.

    Returns the backend's class name; raises Secp256k1BackendMissing otherwise.
    """
    from eth_keys.backends import get_backend

    backend = get_backend()
    name = type(backend).__name__
    if "CoinCurve" not in name:
        raise Secp256k1BackendMissing(
            f"eth_keys uses {name}, the pure-Python secp256k1 fallback (about 6 ms a signature); "
            "install coincurve (pip install coincurve) so signatures cost about 50 µs"
        )
    return name


def address_of_public_key(public_key_uncompressed: bytes) -> Address:
    """The Ethereum address of a 65-byte uncompressed public key."""
    return keccak(public_key_uncompressed[1:])[12:]


def recover_address(message_hash: bytes, y_parity: int, r: int, s: int) -> Address:
    """Recover the signer's address from a 32-byte hash and (y, r, s); BadSignature if it fails.

    Enforces the low-s rule of EIP-2 and the field bounds, so a signature has one valid form.
    """
    if not (0 < r < SECP256K1_ORDER and 0 < s <= SECP256K1_HALF_ORDER):
        raise BadSignature(
            "signature r must be in 1..n-1 and s in 1..n/2 (low-s, EIP-2)", field="signature"
        )
    if y_parity not in (0, 1):
        raise BadSignature(f"signature y parity must be 0 or 1, got {y_parity}", field="signature")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature, message_hash, hasher=None
        )
    except Exception as error:  # coincurve raises plain Exception subclasses
        raise BadSignature("signature does not recover a public key", field="signature") from error
    return address_of_public_key(public_key.format(compressed=False))


def _signing_key(secret: bytes) -> coincurve.PrivateKey:
    """A coincurve key that only signs: `coincurve.PrivateKey(secret)` also derives the public
    key and the x-only public key (two point multiplications, more than the signature itself),
    which `sign_recoverable` never reads (it uses the secret and the context only)."""
    key = coincurve.PrivateKey.__new__(coincurve.PrivateKey)
    key.secret = secret
    key.context = GLOBAL_CONTEXT
    return key


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An institution's or enterprise's secp256k1 key (32 bytes) and its address."""

    secret: bytes
    address: Address

    @classmethod
    def from_secret(cls, secret: bytes) -> PrivateKey:
        """Wrap 32 secret bytes."""
        public = coincurve.PublicKey.from_secret(secret).format(compressed=False)
        return cls(secret=secret, address=address_of_public_key(public))

    def sign_hash(self, message_hash: bytes) -> tuple[int, int, int]:
        """Sign a 32-byte hash; returns (y_parity, r, s) with low s."""
        signature = _signing_key(self.secret).sign_recoverable(message_hash, hasher=None)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        return signature[64], r, s


def derive_private_key(seed: bytes) -> PrivateKey:
    """A deterministic development key from a seed (keccak, reduced into the curve order)."""
    value = int.from_bytes(keccak(seed), "big") % (SECP256K1_ORDER - 1) + 1
    return PrivateKey.from_secret(value.to_bytes(32, "big"))


def checksum_address(address: Address) -> str:
    """EIP-55 mixed-case hex of an address."""
    hex_address = address.hex()
    digest = keccak(hex_address.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c
        for i, c in enumerate(hex_address)
    )


CHECKSUM_CACHE_ENTRIES = 65_536  # institutions, enterprises' keys, contracts: a few thousand


@lru_cache(maxsize=CHECKSUM_CACHE_ENTRIES)
def address_text(address: Address) -> str:
    """EIP-55 text of an address, computed once per address (it costs about 50 µs)."""
    return checksum_address(address)
