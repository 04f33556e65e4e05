"""The peer channel's wire protocol: typed frames on one TLS stream per pair of nodes.

Every frame is a 13-byte header — body length (4 bytes), kind (1), request id (8), big-endian —
and the body. Gossip frames (`CONSENSUS`, `TRANSACTIONS`) carry one consensus message or one
raw transaction and expect no answer (request id 0). A `REQUEST` body starts with a method
byte (`PeerMethod`); its `RESPONSE` carries the same request id and starts with a status byte
(`AnswerStatus`). Both sides may send requests on the same stream: a `RESPONSE` always answers
a request of the side that receives it, so the two id spaces never meet.

Limits: a frame body holds at most `MAX_FRAME_BODY_BYTES` (a block of 1,000 batch transactions
fits); a peer that announces more is disconnected.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from enum import IntEnum

from nodes.runtime.frames import MAX_FRAME_BYTES

HEADER = struct.Struct(">IBQ")  # body length, kind, request id
MAX_FRAME_BODY_BYTES = MAX_FRAME_BYTES + 1024  # a block plus a method or status byte and slack


class FrameKind(IntEnum):
    """What a frame carries."""

    CONSENSUS = 1
    TRANSACTIONS = 2
    REQUEST = 3
    RESPONSE = 4


class PeerMethod(IntEnum):
    """What a request asks of the peer."""

    PAYLOADS = 1  # payloads by hash, for a querier's signed report request
    STORE_PAYLOADS = 2  # payloads a node of the same city replicates
    AUDIT_TRAIL = 3  # audit entries about an enterprise, for its key or a regulator
    AUDIT_PROOF = 4  # an audit entry's inclusion proof, for a signed reader
    BLOCKS = 5  # committed blocks with certificates, for a syncing node
    RESTORE_PAYLOADS = 6  # payloads a wiped node must hold, from a node that shares the duty


class AnswerStatus(IntEnum):
    """How a request was answered."""

    OK = 0
    REFUSED = 1  # the request was understood and refused; the body says why (UTF-8)
    FAILED = 2  # the peer failed to answer


GOSSIP_CHANNELS = {FrameKind.CONSENSUS: "consensus", FrameKind.TRANSACTIONS: "transactions"}
GOSSIP_KINDS = {channel: kind for kind, channel in GOSSIP_CHANNELS.items()}


class PeerRefused(Exception):
    """A request a peer refused (or this node refuses): an error code and the reason.

    On the wire the REFUSED body is `code`, a newline and the message (UTF-8).
    """

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def encode(self) -> bytes:
        """The body of a REFUSED answer (at most 1 KiB)."""
        return f"{self.code}\n{self.message}".encode()[:1024]


class PeerUnavailable(Exception):
    """No answer: the link is down, cut, or the peer did not answer in time."""


Handler = Callable[[str, bytes], Awaitable[bytes]]
"""Answers one request: (the authenticated peer's node id, request body) -> answer body.

Raises PeerRefused to refuse with a reason."""


def encode_frame(kind: FrameKind, request_id: int, body: bytes) -> bytes:
    """One frame: header and body."""
    if len(body) > MAX_FRAME_BODY_BYTES:
        raise ValueError(f"a peer frame holds at most {MAX_FRAME_BODY_BYTES} bytes")
    return HEADER.pack(len(body), kind, request_id) + body


def encode_request(method: PeerMethod, request_id: int, body: bytes) -> bytes:
    """A request frame."""
    return encode_frame(FrameKind.REQUEST, request_id, bytes((method,)) + body)


def encode_response(status: AnswerStatus, request_id: int, body: bytes) -> bytes:
    """A response frame."""
    return encode_frame(FrameKind.RESPONSE, request_id, bytes((status,)) + body)


async def read_frame(reader: asyncio.StreamReader) -> tuple[FrameKind, int, bytes]:
    """The next frame; ValueError for an unknown kind or an oversized body, EOF errors as is."""
    header = await reader.readexactly(HEADER.size)
    length, kind, request_id = HEADER.unpack(header)
    if length > MAX_FRAME_BODY_BYTES:
        raise ValueError(f"peer frame of {length} bytes exceeds {MAX_FRAME_BODY_BYTES}")
    try:
        frame_kind = FrameKind(kind)
    except ValueError as error:
        raise ValueError(f"unknown peer frame kind {kind}") from error
    return frame_kind, request_id, await reader.readexactly(length)


def decode_answer(body: bytes) -> bytes:
    """The payload of an OK response; PeerRefused or PeerUnavailable otherwise."""
    if not body:
        raise PeerUnavailable("empty peer response")
    status, rest = body[0], body[1:]
    if status == AnswerStatus.OK:
        return rest
    if status == AnswerStatus.REFUSED:
        code, _, message = rest.decode("utf-8", "replace").partition("\n")
        raise PeerRefused(message, code)
    raise PeerUnavailable(rest.decode("utf-8", "replace") or "the peer failed to answer")
