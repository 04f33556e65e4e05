"""Commit certificates: a quorum of commit seals proving that a block is final.

A certificate travels with the committed block (block sync checks it before appending a block
fetched from a peer). Each seal is a validator's Ed25519 signature over (chain id, height,
block hash); a certificate is valid when a quorum of distinct validators sealed the same hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.consensus.codec import CODEC_VERSION, Reader, Writer
from chain.consensus.errors import (
    DuplicateSealError,
    InsufficientSealsError,
    InvalidSealError,
    MalformedMessageError,
    UnknownSealerError,
)
from chain.consensus.messages import SIZE_BYTES_BLOCK_HASH, SIZE_BYTES_SIGNATURE
from chain.consensus.signing import verify_seal
from chain.consensus.validators import COUNT_MAX_VALIDATORS, SIZE_BYTES_MAX_NODE_ID, ValidatorSet

TAG_CERTIFICATE = 16
"""Tag byte of an encoded certificate (distinct from message tags)."""


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Proof that a quorum committed `block_hash` at `height` (decided in `round`)."""

    height: int
    round: int
    """The round whose COMMITs formed the certificate (informational: seals do not sign it)."""
    block_hash: bytes
    seals: tuple[tuple[str, bytes], ...]
    """(node id, seal) pairs in validator-set order."""

    def encode(self) -> bytes:
        """Canonical bytes of this certificate."""
        return encode_certificate(self)

    @staticmethod
    def decode(data: bytes) -> CommitCertificate:
        """The certificate encoded in `data`."""
        return decode_certificate(data)


def encode_certificate(certificate: CommitCertificate) -> bytes:
    """version:u8 tag:u8 height:u64 round:u32 block_hash:32 count:u16 (node_id:str seal:64)*."""
    writer = Writer()
    writer.u8(CODEC_VERSION)
    writer.u8(TAG_CERTIFICATE)
    writer.u64(certificate.height, "height")
    writer.u32(certificate.round, "round")
    writer.fixed(certificate.block_hash, SIZE_BYTES_BLOCK_HASH, "block_hash")
    writer.u16(len(certificate.seals))
    for node_id, seal in certificate.seals:
        writer.text(node_id, SIZE_BYTES_MAX_NODE_ID, "seal node id")
        writer.fixed(seal, SIZE_BYTES_SIGNATURE, "seal")
    return writer.getvalue()


def decode_certificate(data: bytes) -> CommitCertificate:
    """Inverse of encode_certificate; raises MalformedMessageError on malformed input."""
    reader = Reader(data)
    version = reader.u8("codec version")
    if version != CODEC_VERSION:
        raise MalformedMessageError(f"codec version {CODEC_VERSION}", str(version), 0)
    tag = reader.u8("certificate tag")
    if tag != TAG_CERTIFICATE:
        raise MalformedMessageError(f"certificate tag {TAG_CERTIFICATE}", str(tag), 1)
    height = reader.u64("height")
    round_number = reader.u32("round")
    block_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte block hash")
    seals = tuple(
        (
            reader.text(SIZE_BYTES_MAX_NODE_ID, "seal node id"),
            reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte seal"),
        )
        for _ in range(reader.count(COUNT_MAX_VALIDATORS, "seals"))
    )
    reader.finish()
    return CommitCertificate(height, round_number, block_hash, seals)


def verify_certificate(certificate: CommitCertificate, validator_set: ValidatorSet) -> None:
    """Return None when a quorum of distinct validators sealed the block; raise otherwise.

    Raises UnknownSealerError, DuplicateSealError, InvalidSealError or InsufficientSealsError.
    """
    seen: set[str] = set()
    for node_id, seal in certificate.seals:
        if validator_set.get(node_id) is None:
            raise UnknownSealerError(node_id)
        if node_id in seen:
            raise DuplicateSealError(node_id)
        if not verify_seal(
            validator_set, node_id, certificate.height, certificate.block_hash, seal
        ):
            raise InvalidSealError(node_id, certificate.height)
        seen.add(node_id)
    if len(seen) < validator_set.quorum:
        raise InsufficientSealsError(validator_set.quorum, len(seen))
