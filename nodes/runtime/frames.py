"""Length-prefixed frames: several messages in one HTTP body between peers."""

from __future__ import annotations

from collections.abc import Iterable

MAX_FRAME_BYTES = 32 * 1024 * 1024  # a block of 1,000 batch transactions fits
MAX_FRAMES = 10_000


def encode_frames(items: Iterable[bytes]) -> bytes:
    """Concatenate items, each behind a 4-byte big-endian length."""
    return b"".join(len(item).to_bytes(4, "big") + item for item in items)


def decode_frames(body: bytes) -> list[bytes]:
    """Split a body into its frames; ValueError if it is truncated or over the limits."""
    frames: list[bytes] = []
    position = 0
    while position < len(body):
        if position + 4 > len(body) or len(frames) >= MAX_FRAMES:
            raise ValueError("frames: truncated length prefix or too many frames")
        length = int.from_bytes(body[position : position + 4], "big")
        end = position + 4 + length
        if length > MAX_FRAME_BYTES or end > len(body):
            raise ValueError(f"frames: a frame of {length} bytes overruns the body")
        frames.append(body[position + 4 : end])
        position = end
    return frames
