"""Signing and verifying consensus messages and commit seals with Ed25519 (PyNaCl).

`verify_message` is a pure function of the message and the validator set, so a runtime may call
it from a thread pool before handing messages to the state machine (PyNaCl releases the GIL).
"""

from __future__ import annotations

import dataclasses
import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from chain.consensus.codec import encode_seal_payload, encode_signing_payload
from chain.consensus.errors import CodecError, InvalidFieldError
from chain.consensus.messages import Commit, Message, Prepare, Proposal
from chain.consensus.validators import ValidatorSet

_DIGEST_KIND: dict[type, bytes] = {Proposal: b"P", Prepare: b"V", Commit: b"C"}
SIZE_BYTES_SIGNING_SEED = 32
"""An Ed25519 private key is a 32-byte seed."""


class Signer:
    """Holds one node's Ed25519 key and signs its consensus messages and seals."""

    __slots__ = ("_chain_id", "_key", "node_id")

    def __init__(self, node_id: str, signing_key_seed: bytes, chain_id: str) -> None:
        if len(signing_key_seed) != SIZE_BYTES_SIGNING_SEED:
            raise InvalidFieldError(
                "signing_key_seed", f"{SIZE_BYTES_SIGNING_SEED} bytes", f"{len(signing_key_seed)}"
            )
        self.node_id = node_id
        self._key = SigningKey(signing_key_seed)
        self._chain_id = chain_id

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(self._key.verify_key)

    def sign(self, message: Message) -> Message:
        """The message with `sender` set to this node and a fresh signature."""
        unsigned = dataclasses.replace(message, sender=self.node_id, signature=b"")
        payload = encode_signing_payload(unsigned, self._chain_id)
        return dataclasses.replace(unsigned, signature=self._key.sign(payload).signature)

    def seal(self, height: int, block_hash: bytes) -> bytes:
        """The commit seal: a signature over (chain id, height, block hash)."""
        payload = encode_seal_payload(self._chain_id, height, block_hash)
        return self._key.sign(payload).signature


def _verify(key: VerifyKey, payload: bytes, signature: bytes) -> bool:
    try:
        key.verify(payload, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_seal(
    validator_set: ValidatorSet, node_id: str, height: int, block_hash: bytes, seal: bytes
) -> bool:
    """Whether `seal` is node_id's commit seal for (height, block_hash) on this chain."""
    key = validator_set.verify_key(node_id)
    if key is None or len(block_hash) != 32:
        return False
    return _verify(key, encode_seal_payload(validator_set.chain_id, height, block_hash), seal)


def verify_message(message: Message, validator_set: ValidatorSet) -> bool:
    """Whether the sender is a validator and signed the message's signed fields.

    For a COMMIT the seal is checked too. Unsigned riders (justifications, certificates) are not
    checked here; the state machine checks them message by message.
    """
    key = validator_set.verify_key(message.sender)
    if key is None:
        return False
    try:
        payload = encode_signing_payload(message, validator_set.chain_id)
    except CodecError:
        return False
    if not _verify(key, payload, message.signature):
        return False
    if isinstance(message, Commit):
        return verify_seal(
            validator_set, message.sender, message.height, message.block_hash, message.seal
        )
    return True


def message_digest(message: Message, chain_id: str) -> bytes:
    """The key of the verification cache: every signed field and the signature, unambiguously.

    For the three header messages the signed fields are written out directly (kind, height,
    round, block hash, the commit's seal, the sender; the chain id is the validator set's, the
    same for every key of one cache); a round change, whose prepared claim is longer, is keyed by
    SHA-256 over its signing payload. Every message reaching a node is keyed, so this is cheap.
    """
    if isinstance(message, Proposal | Prepare | Commit):
        sender = message.sender.encode()
        seal = message.seal if isinstance(message, Commit) else b""
        numbers = f"{message.height}:{message.round}:{len(message.block_hash)}:{len(seal)}:"
        return b"".join((_DIGEST_KIND[type(message)], numbers.encode(), message.block_hash, seal,
                         len(sender).to_bytes(4, "big"), sender, message.signature))
    try:
        payload = encode_signing_payload(message, chain_id)
    except CodecError:
        payload = repr(message).encode()
    return b"R" + hashlib.sha256(payload + message.signature).digest()
