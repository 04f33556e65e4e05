"""The consensus record that must survive a crash (the write-ahead rule).

Before a node sends a vote it persists what it voted for and the value it prepared; after a
restart it is rebuilt from this record, so it never signs two different values of one kind for
one (height, round), and it still reports its prepared value in later round changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chain.consensus.codec import (
    CODEC_VERSION,
    SIZE_BYTES_MAX_BLOCK,
    SIZE_BYTES_MAX_MESSAGE,
    Reader,
    Writer,
    decode_message,
    encode_message,
)
from chain.consensus.errors import MalformedMessageError
from chain.consensus.messages import SIZE_BYTES_BLOCK_HASH, Prepare
from chain.consensus.validators import COUNT_MAX_VALIDATORS

TAG_PERSISTED_STATE = 32
"""Tag byte of an encoded PersistedState."""

COUNT_MAX_VOTES = 3 * 1024
"""Votes kept per height: three kinds per round, for the rounds a height may plausibly need."""


class VoteKind(StrEnum):
    """The kinds of value-carrying messages a validator signs."""

    PROPOSAL = "proposal"
    PREPARE = "prepare"
    COMMIT = "commit"


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """One signed vote: kind, round and the block hash it was for."""

    round: int
    kind: VoteKind
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class PersistedState:
    """What a validator must remember about the height it is deciding."""

    height: int
    round: int
    """Highest round entered at this height."""
    prepared_round: int | None
    """Round of the last prepared certificate (the lock), or None."""
    prepared_block_hash: bytes
    prepared_block: bytes
    prepared_certificate: tuple[Prepare, ...]
    votes: tuple[VoteRecord, ...]


_VOTE_KIND_CODES = {VoteKind.PROPOSAL: 1, VoteKind.PREPARE: 2, VoteKind.COMMIT: 3}
_VOTE_KINDS_BY_CODE = {code: kind for kind, code in _VOTE_KIND_CODES.items()}


def encode_persisted_state(record: PersistedState) -> bytes:
    """Canonical bytes of a persisted record."""
    writer = Writer()
    writer.u8(CODEC_VERSION)
    writer.u8(TAG_PERSISTED_STATE)
    writer.u64(record.height, "height")
    writer.u32(record.round, "round")
    if record.prepared_round is None:
        writer.u8(0)
    else:
        writer.u8(1)
        writer.u32(record.prepared_round, "prepared_round")
        writer.fixed(record.prepared_block_hash, SIZE_BYTES_BLOCK_HASH, "prepared_block_hash")
        writer.blob(record.prepared_block, SIZE_BYTES_MAX_BLOCK, "prepared_block")
        writer.u16(len(record.prepared_certificate))
        for prepare in record.prepared_certificate:
            writer.blob(encode_message(prepare), SIZE_BYTES_MAX_MESSAGE, "prepare")
    writer.u16(len(record.votes))
    for vote in record.votes:
        writer.u32(vote.round, "vote round")
        writer.u8(_VOTE_KIND_CODES[vote.kind])
        writer.fixed(vote.block_hash, SIZE_BYTES_BLOCK_HASH, "vote block_hash")
    return writer.getvalue()


def decode_persisted_state(data: bytes) -> PersistedState:
    """Inverse of encode_persisted_state; raises MalformedMessageError on malformed input."""
    reader = Reader(data)
    if reader.u8("codec version") != CODEC_VERSION:
        raise MalformedMessageError(f"codec version {CODEC_VERSION}", "another version", 0)
    if reader.u8("record tag") != TAG_PERSISTED_STATE:
        raise MalformedMessageError(f"record tag {TAG_PERSISTED_STATE}", "another tag", 1)
    height = reader.u64("height")
    round_number = reader.u32("round")
    flag = reader.u8("prepared flag")
    prepared_round: int | None = None
    prepared_hash = b""
    prepared_block = b""
    certificate: list[Prepare] = []
    if flag == 1:
        prepared_round = reader.u32("prepared round")
        prepared_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte prepared hash")
        prepared_block = reader.blob(SIZE_BYTES_MAX_BLOCK, "prepared_block")
        for _ in range(reader.count(COUNT_MAX_VALIDATORS, "prepared_certificate")):
            offset = reader.offset
            message = decode_message(reader.blob(SIZE_BYTES_MAX_MESSAGE, "prepare"))
            if not isinstance(message, Prepare):
                raise MalformedMessageError("a Prepare", type(message).__name__, offset)
            certificate.append(message)
    elif flag != 0:
        raise MalformedMessageError("prepared flag 0 or 1", str(flag), reader.offset - 1)
    votes: list[VoteRecord] = []
    for _ in range(reader.count(COUNT_MAX_VOTES, "votes")):
        vote_round = reader.u32("vote round")
        offset = reader.offset
        code = reader.u8("vote kind")
        if code not in _VOTE_KINDS_BY_CODE:
            raise MalformedMessageError("vote kind 1..3", str(code), offset)
        block_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte vote hash")
        votes.append(VoteRecord(vote_round, _VOTE_KINDS_BY_CODE[code], block_hash))
    reader.finish()
    return PersistedState(
        height,
        round_number,
        prepared_round,
        prepared_hash,
        prepared_block,
        tuple(certificate),
        tuple(votes),
    )
