"""Canonical byte encoding of consensus messages and of the payloads that get signed.

Layout (all integers big-endian, every length checked against a named limit):

    message   = version:u8 tag:u8 body
    Prepare   = height:u64 round:u32 block_hash:32 sender:str signature:64
    Commit    = height:u64 round:u32 block_hash:32 seal:64 sender:str signature:64
    RoundChange = height:u64 round:u32 has_prepared:u8 [prepared_round:u32 prepared_hash:32]
                  sender:str count:u16 Prepare-body*count prepared_block:bytes signature:64
    Proposal  = height:u64 round:u32 block_hash:32 sender:str block:bytes
                count:u16 RoundChange-body*count signature:64
    str       = length:u16 utf-8;  bytes = length:u32 raw

The encoding is deterministic: one value has exactly one encoding, and decoding rejects trailing
bytes, unknown tags, out-of-range lengths and non-canonical flags. Signed payloads start with a
domain-separation prefix and the chain id, so a signature made for one purpose or one chain can
never be replayed as another.
"""

from __future__ import annotations

import struct

from chain.consensus.errors import InvalidFieldError, MalformedMessageError, MessageTooLargeError
from chain.consensus.messages import (
    SIZE_BYTES_BLOCK_HASH,
    SIZE_BYTES_SIGNATURE,
    Commit,
    Message,
    Prepare,
    Proposal,
    RoundChange,
)
from chain.consensus.validators import (
    COUNT_MAX_VALIDATORS,
    SIZE_BYTES_MAX_CHAIN_ID,
    SIZE_BYTES_MAX_NODE_ID,
)

CODEC_VERSION = 1
"""First byte of every encoded message; bump it when the layout changes."""

SIZE_BYTES_MAX_BLOCK = 1 << 20
"""Largest block a proposal may carry (1 MiB): blocks are batches of small transactions."""

SIZE_BYTES_MAX_MESSAGE = 3 << 20
"""Largest encoded message (3 MiB): a block plus a justification of up to
COUNT_MAX_VALIDATORS round changes, each with a prepared certificate."""

ROUND_MAX = (1 << 32) - 1
"""Rounds are u32 on the wire."""

HEIGHT_MAX = (1 << 64) - 1
"""Heights are u64 on the wire."""

DOMAIN_MESSAGE = b"yrdchain/consensus/message/v1\x00"
"""Prefix of every signed message payload."""

DOMAIN_SEAL = b"yrdchain/consensus/commit-seal/v1\x00"
"""Prefix of every commit seal payload."""

TAG_PROPOSAL = 1
TAG_PREPARE = 2
TAG_COMMIT = 3
TAG_ROUND_CHANGE = 4

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class Writer:
    """Appends canonical fields to a byte buffer."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> None:
        """An unsigned byte."""
        self._parts.append(bytes((value,)))

    def u16(self, value: int) -> None:
        """An unsigned 16-bit integer."""
        self._parts.append(_U16.pack(value))

    def u32(self, value: int, field: str = "u32") -> None:
        """An unsigned 32-bit integer."""
        if not 0 <= value <= ROUND_MAX:
            raise InvalidFieldError(field, "0..2**32-1", str(value))
        self._parts.append(_U32.pack(value))

    def u64(self, value: int, field: str = "u64") -> None:
        """An unsigned 64-bit integer."""
        if not 0 <= value <= HEIGHT_MAX:
            raise InvalidFieldError(field, "0..2**64-1", str(value))
        self._parts.append(_U64.pack(value))

    def fixed(self, value: bytes, size: int, field: str) -> None:
        """Exactly `size` raw bytes."""
        if len(value) != size:
            raise InvalidFieldError(field, f"{size} bytes", f"{len(value)} bytes")
        self._parts.append(value)

    def blob(self, value: bytes, limit: int, field: str) -> None:
        """Length-prefixed (u32) raw bytes of at most `limit` bytes."""
        if len(value) > limit:
            raise MessageTooLargeError(field, limit, len(value))
        self._parts.append(_U32.pack(len(value)))
        self._parts.append(value)

    def text(self, value: str, limit: int, field: str) -> None:
        """Length-prefixed (u16) UTF-8 text of at most `limit` bytes."""
        raw = value.encode()
        if len(raw) > limit:
            raise MessageTooLargeError(field, limit, len(raw))
        self._parts.append(_U16.pack(len(raw)))
        self._parts.append(raw)

    def raw(self, value: bytes) -> None:
        """Bytes written as they are (prefixes)."""
        self._parts.append(value)

    def getvalue(self) -> bytes:
        """Everything written so far."""
        return b"".join(self._parts)


class Reader:
    """Reads canonical fields, raising MalformedMessageError on any deviation."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def _take(self, size: int, expected: str) -> bytes:
        end = self._offset + size
        if end > len(self._data):
            raise MalformedMessageError(
                expected, f"{len(self._data) - self._offset} bytes left", self._offset
            )
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def u8(self, expected: str = "u8") -> int:
        """An unsigned byte."""
        return self._take(1, expected)[0]

    def u16(self, expected: str = "u16") -> int:
        """An unsigned 16-bit integer."""
        value: int = _U16.unpack(self._take(2, expected))[0]
        return value

    def u32(self, expected: str = "u32") -> int:
        """An unsigned 32-bit integer."""
        value: int = _U32.unpack(self._take(4, expected))[0]
        return value

    def u64(self, expected: str = "u64") -> int:
        """An unsigned 64-bit integer."""
        value: int = _U64.unpack(self._take(8, expected))[0]
        return value

    def fixed(self, size: int, expected: str) -> bytes:
        """Exactly `size` raw bytes."""
        return self._take(size, expected)

    def blob(self, limit: int, field: str) -> bytes:
        """Length-prefixed (u32) raw bytes of at most `limit` bytes."""
        size = self.u32(f"{field} length")
        if size > limit:
            raise MessageTooLargeError(field, limit, size)
        return self._take(size, field)

    def text(self, limit: int, field: str) -> str:
        """Length-prefixed (u16) UTF-8 text of at most `limit` bytes."""
        offset = self._offset
        size = self.u16(f"{field} length")
        if size > limit:
            raise MessageTooLargeError(field, limit, size)
        raw = self._take(size, field)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise MalformedMessageError(f"UTF-8 {field}", repr(raw[:16]), offset) from None

    def count(self, limit: int, field: str) -> int:
        """A u16 element count of at most `limit`."""
        value = self.u16(f"{field} count")
        if value > limit:
            raise MessageTooLargeError(f"{field} count", limit, value)
        return value

    def finish(self) -> None:
        """Require that every byte was consumed."""
        if self._offset != len(self._data):
            raise MalformedMessageError(
                "end of input", f"{len(self._data) - self._offset} trailing bytes", self._offset
            )

    @property
    def offset(self) -> int:
        """Bytes consumed so far."""
        return self._offset


# --- messages -------------------------------------------------------------------------------


def encode_message(message: Message) -> bytes:
    """The canonical bytes of a signed message."""
    writer = Writer()
    writer.u8(CODEC_VERSION)
    _write_message(writer, message)
    data = writer.getvalue()
    if len(data) > SIZE_BYTES_MAX_MESSAGE:
        raise MessageTooLargeError("message", SIZE_BYTES_MAX_MESSAGE, len(data))
    return data


def decode_message(data: bytes) -> Message:
    """The message encoded in `data`; raises MalformedMessageError or MessageTooLargeError."""
    if len(data) > SIZE_BYTES_MAX_MESSAGE:
        raise MessageTooLargeError("message", SIZE_BYTES_MAX_MESSAGE, len(data))
    reader = Reader(data)
    version = reader.u8("codec version")
    if version != CODEC_VERSION:
        raise MalformedMessageError(f"codec version {CODEC_VERSION}", str(version), 0)
    message = _read_message(reader)
    reader.finish()
    return message


def _write_message(writer: Writer, message: Message) -> None:
    if isinstance(message, Proposal):
        writer.u8(TAG_PROPOSAL)
        _write_proposal(writer, message)
    elif isinstance(message, Prepare):
        writer.u8(TAG_PREPARE)
        _write_prepare(writer, message)
    elif isinstance(message, Commit):
        writer.u8(TAG_COMMIT)
        _write_commit(writer, message)
    else:
        writer.u8(TAG_ROUND_CHANGE)
        _write_round_change(writer, message)


def _read_message(reader: Reader) -> Message:
    offset = reader.offset
    tag = reader.u8("message tag")
    if tag == TAG_PROPOSAL:
        return _read_proposal(reader)
    if tag == TAG_PREPARE:
        return _read_prepare(reader)
    if tag == TAG_COMMIT:
        return _read_commit(reader)
    if tag == TAG_ROUND_CHANGE:
        return _read_round_change(reader)
    raise MalformedMessageError("message tag 1..4", str(tag), offset)


def _write_header(writer: Writer, height: int, round_number: int, block_hash: bytes) -> None:
    writer.u64(height, "height")
    writer.u32(round_number, "round")
    writer.fixed(block_hash, SIZE_BYTES_BLOCK_HASH, "block_hash")


def _write_sender(writer: Writer, sender: str) -> None:
    writer.text(sender, SIZE_BYTES_MAX_NODE_ID, "sender")


def _write_signature(writer: Writer, signature: bytes) -> None:
    writer.fixed(signature, SIZE_BYTES_SIGNATURE, "signature")


def _write_prepare(writer: Writer, message: Prepare) -> None:
    _write_header(writer, message.height, message.round, message.block_hash)
    _write_sender(writer, message.sender)
    _write_signature(writer, message.signature)


def _read_prepare(reader: Reader) -> Prepare:
    height = reader.u64("height")
    round_number = reader.u32("round")
    block_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte block hash")
    sender = reader.text(SIZE_BYTES_MAX_NODE_ID, "sender")
    signature = reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte signature")
    return Prepare(height, round_number, block_hash, sender, signature)


def _write_commit(writer: Writer, message: Commit) -> None:
    _write_header(writer, message.height, message.round, message.block_hash)
    writer.fixed(message.seal, SIZE_BYTES_SIGNATURE, "seal")
    _write_sender(writer, message.sender)
    _write_signature(writer, message.signature)


def _read_commit(reader: Reader) -> Commit:
    height = reader.u64("height")
    round_number = reader.u32("round")
    block_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte block hash")
    seal = reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte seal")
    sender = reader.text(SIZE_BYTES_MAX_NODE_ID, "sender")
    signature = reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte signature")
    return Commit(height, round_number, block_hash, seal, sender, signature)


def _write_prepared_claim(writer: Writer, message: RoundChange) -> None:
    if message.prepared_round is None:
        if message.prepared_block_hash or message.prepared_certificate or message.prepared_block:
            raise InvalidFieldError(
                "prepared_round", "a round when a prepared value is present", "None"
            )
        writer.u8(0)
        return
    writer.u8(1)
    writer.u32(message.prepared_round, "prepared_round")
    writer.fixed(message.prepared_block_hash, SIZE_BYTES_BLOCK_HASH, "prepared_block_hash")


def _write_round_change(writer: Writer, message: RoundChange) -> None:
    writer.u64(message.height, "height")
    writer.u32(message.round, "round")
    _write_prepared_claim(writer, message)
    _write_sender(writer, message.sender)
    if len(message.prepared_certificate) > COUNT_MAX_VALIDATORS:
        raise MessageTooLargeError(
            "prepared_certificate count", COUNT_MAX_VALIDATORS, len(message.prepared_certificate)
        )
    writer.u16(len(message.prepared_certificate))
    for prepare in message.prepared_certificate:
        _write_prepare(writer, prepare)
    writer.blob(message.prepared_block, SIZE_BYTES_MAX_BLOCK, "prepared_block")
    _write_signature(writer, message.signature)


def _read_round_change(reader: Reader) -> RoundChange:
    height = reader.u64("height")
    round_number = reader.u32("round")
    flag_offset = reader.offset
    has_prepared = reader.u8("prepared flag")
    prepared_round: int | None = None
    prepared_hash = b""
    if has_prepared == 1:
        prepared_round = reader.u32("prepared round")
        prepared_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte prepared block hash")
    elif has_prepared != 0:
        raise MalformedMessageError("prepared flag 0 or 1", str(has_prepared), flag_offset)
    sender = reader.text(SIZE_BYTES_MAX_NODE_ID, "sender")
    certificate = tuple(
        _read_prepare(reader)
        for _ in range(reader.count(COUNT_MAX_VALIDATORS, "prepared_certificate"))
    )
    block_offset = reader.offset
    prepared_block = reader.blob(SIZE_BYTES_MAX_BLOCK, "prepared_block")
    if prepared_round is None and (certificate or prepared_block):
        raise MalformedMessageError(
            "no certificate or block without a prepared round", "some", block_offset
        )
    signature = reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte signature")
    return RoundChange(
        height,
        round_number,
        prepared_round,
        prepared_hash,
        sender,
        certificate,
        prepared_block,
        signature,
    )


def _write_proposal(writer: Writer, message: Proposal) -> None:
    _write_header(writer, message.height, message.round, message.block_hash)
    _write_sender(writer, message.sender)
    writer.blob(message.block, SIZE_BYTES_MAX_BLOCK, "block")
    if len(message.justification) > COUNT_MAX_VALIDATORS:
        raise MessageTooLargeError(
            "justification count", COUNT_MAX_VALIDATORS, len(message.justification)
        )
    writer.u16(len(message.justification))
    for round_change in message.justification:
        _write_round_change(writer, round_change)
    _write_signature(writer, message.signature)


def _read_proposal(reader: Reader) -> Proposal:
    height = reader.u64("height")
    round_number = reader.u32("round")
    block_hash = reader.fixed(SIZE_BYTES_BLOCK_HASH, "32-byte block hash")
    sender = reader.text(SIZE_BYTES_MAX_NODE_ID, "sender")
    block = reader.blob(SIZE_BYTES_MAX_BLOCK, "block")
    justification = tuple(
        _read_round_change(reader)
        for _ in range(reader.count(COUNT_MAX_VALIDATORS, "justification"))
    )
    signature = reader.fixed(SIZE_BYTES_SIGNATURE, "64-byte signature")
    return Proposal(height, round_number, block_hash, sender, block, justification, signature)


# --- signed payloads ------------------------------------------------------------------------


def encode_signing_payload(message: Message, chain_id: str) -> bytes:
    """The bytes a message's signature covers: domain, chain id, tag and the signed fields.

    Unsigned riders (a proposal's block and justification, a round change's certificate and
    block) are left out: each is checked on its own.
    """
    writer = Writer()
    writer.raw(DOMAIN_MESSAGE)
    writer.text(chain_id, SIZE_BYTES_MAX_CHAIN_ID, "chain_id")
    if isinstance(message, Proposal):
        writer.u8(TAG_PROPOSAL)
        _write_header(writer, message.height, message.round, message.block_hash)
    elif isinstance(message, Prepare):
        writer.u8(TAG_PREPARE)
        _write_header(writer, message.height, message.round, message.block_hash)
    elif isinstance(message, Commit):
        writer.u8(TAG_COMMIT)
        _write_header(writer, message.height, message.round, message.block_hash)
        writer.fixed(message.seal, SIZE_BYTES_SIGNATURE, "seal")
    else:
        writer.u8(TAG_ROUND_CHANGE)
        writer.u64(message.height, "height")
        writer.u32(message.round, "round")
        _write_prepared_claim(writer, message)
    _write_sender(writer, message.sender)
    return writer.getvalue()


def encode_seal_payload(chain_id: str, height: int, block_hash: bytes) -> bytes:
    """The bytes a commit seal covers: domain, chain id, height and block hash."""
    writer = Writer()
    writer.raw(DOMAIN_SEAL)
    writer.text(chain_id, SIZE_BYTES_MAX_CHAIN_ID, "chain_id")
    writer.u64(height, "height")
    writer.fixed(block_hash, SIZE_BYTES_BLOCK_HASH, "block_hash")
    return writer.getvalue()
