"""How the block store compresses a block and its receipts (zstd, ADR 0024).

A block is stored as one zstd frame, with zstd's content checksum, so bytes changed on disk
are reported rather than decoded into other bytes. Its receipts are stored as a zstd frame
compressed with the block's own bytes as a raw-content prefix: a receipt's logs repeat what
the block's calldata holds (enterprise codes, payload hashes, record ids, publishers), so with
the block as prefix they become back-references into it and the receipts of a batch of
publishes shrink to a few bytes a log. Reading receipts therefore needs the block's bytes (one
more decompression); the ledger keeps its last committed blocks and receipts in memory, so
only reads of older heights pay it.

Python 3.14 ships the `compression.zstd` module; earlier versions take the same API from
`backports.zstd` (the `backports-zstd` package).
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

COMPRESSION_LEVEL = 3
"""zstd level 3: at level 1 the window does not reach back into the prefix, so receipts lose
their back-references; levels above 3 spend several times the CPU for a few per cent."""

WINDOW_LOG_MAX = 31
"""Accept frames whose window covers a block of any size (zstd's default limit is 128 MiB)."""

_COMPRESSION_OPTIONS: dict[int, int] = {
    int(zstd.CompressionParameter.compression_level): COMPRESSION_LEVEL,
    int(zstd.CompressionParameter.checksum_flag): 1,  # 4 bytes a frame: a changed byte is caught
}
_DECOMPRESSION_OPTIONS: dict[int, int] = {
    int(zstd.DecompressionParameter.window_log_max): WINDOW_LOG_MAX}


class CorruptFrame(ValueError):
    """Stored bytes that are not a whole zstd frame of this store's encoding."""


def compress_block(block: bytes) -> bytes:
    """A block's stored bytes."""
    return zstd.compress(block, options=_COMPRESSION_OPTIONS)


def decompress_block(stored: bytes) -> bytes:
    """A block's bytes from its stored frame."""
    try:
        return zstd.decompress(stored, options=_DECOMPRESSION_OPTIONS)
    except zstd.ZstdError as error:
        raise CorruptFrame(f"stored block is not a zstd frame: {error}") from None


MIN_PREFIX_BYTES = 8
"""zstd refuses raw content shorter than this as a prefix; such blocks (only tests write them)
compress their receipts alone."""


def _prefix(block: bytes) -> zstd.ZstdDict | None:
    return zstd.ZstdDict(block, is_raw=True) if len(block) >= MIN_PREFIX_BYTES else None


def compress_receipts(receipts: bytes, block: bytes) -> bytes:
    """Receipts' stored bytes: compressed with their block's bytes as prefix."""
    prefix = _prefix(block)
    if prefix is None:
        return zstd.compress(receipts, options=_COMPRESSION_OPTIONS)
    return zstd.compress(receipts, options=_COMPRESSION_OPTIONS,
                         zstd_dict=prefix.as_prefix)


def decompress_receipts(stored: bytes, block: bytes) -> bytes:
    """Receipts' bytes from their stored frame and their block's (decompressed) bytes."""
    prefix = _prefix(block)
    try:
        if prefix is None:
            return zstd.decompress(stored, options=_DECOMPRESSION_OPTIONS)
        return zstd.decompress(stored, zstd_dict=prefix.as_prefix,
                               options=_DECOMPRESSION_OPTIONS)
    except zstd.ZstdError as error:
        raise CorruptFrame(f"stored receipts are not a zstd frame of their block: "
                           f"{error}") from None
