"""The LMDB store keeps blocks and receipts as zstd frames, receipts with their block as prefix.

What a reader gets back is byte for byte what was committed; receipts that repeat their block's
bytes take a fraction of their size on disk; a frame changed on disk is reported, not decoded
into something else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import lmdb
import pytest

from chain.storage import StoreCommit
from nodes.storage import compression
from nodes.storage.blocks import (
    BLOCKS_DB,
    RECEIPTS_DB,
    CorruptStore,
    LmdbBlockStore,
    encode_height_key,
)

HASHES = 200


def _words(seed: bytes) -> list[bytes]:
    return [hashlib.sha256(seed + index.to_bytes(4, "big")).digest() for index in range(HASHES)]


def _commit(height: int) -> StoreCommit:
    """A block of random-looking words and receipts that quote them in another order."""
    words = _words(b"block-%d" % height)
    block = b"".join(words)
    receipts = b"".join(b"log" + word + bytes(12) + height.to_bytes(8, "big")
                        for word in reversed(words))
    return StoreCommit(height=height, block_hash=hashlib.sha256(block).digest(), block=block,
                       receipts=receipts, head=b"head-%d" % height, state_nodes={})


def _stored(path: Path, name: bytes, height: int) -> bytes:
    environment = lmdb.open(str(path), readonly=True, lock=False, max_dbs=16)
    try:
        with environment.begin(db=environment.open_db(name, create=False)) as transaction:
            return bytes(transaction.get(encode_height_key(height)))
    finally:
        environment.close()


def test_blocks_and_receipts_read_back_exactly_and_receipts_take_little_room(
        tmp_path: Path) -> None:
    commits = [_commit(height) for height in range(3)]
    with LmdbBlockStore(tmp_path / "chain") as store:
        for commit in commits:
            store.save_commit(commit)
    with LmdbBlockStore(tmp_path / "chain") as store:
        for commit in commits:
            assert store.load_block(commit.height) == commit.block
            assert store.load_receipts(commit.height) == commit.receipts
    stored_receipts = _stored(tmp_path / "chain", RECEIPTS_DB, 1)
    alone = compression.zstd.compress(commits[1].receipts, compression.COMPRESSION_LEVEL)
    # every quoted word is a back-reference into the block: far smaller than compressed alone
    assert len(stored_receipts) * 4 < len(alone)
    assert len(alone) > HASHES * 32  # random words do not compress by themselves


def test_a_tiny_block_still_stores_its_receipts(tmp_path: Path) -> None:
    commit = StoreCommit(height=0, block_hash=b"\1" * 32, block=b"b", receipts=b"receipts",
                         head=b"head", state_nodes={})
    with LmdbBlockStore(tmp_path / "chain") as store:
        store.save_commit(commit)
        assert store.load_block(0) == b"b"
        assert store.load_receipts(0) == b"receipts"


@pytest.mark.parametrize("name", [BLOCKS_DB, RECEIPTS_DB])
def test_a_frame_changed_on_disk_is_reported(tmp_path: Path, name: bytes) -> None:
    with LmdbBlockStore(tmp_path / "chain") as store:
        store.save_commit(_commit(0))
    environment = lmdb.open(str(tmp_path / "chain"), max_dbs=16)
    with environment.begin(write=True, db=environment.open_db(name)) as transaction:
        frame = bytearray(transaction.get(encode_height_key(0)))
        frame[len(frame) // 2] ^= 0xFF
        transaction.put(encode_height_key(0), bytes(frame))
    environment.close()
    with LmdbBlockStore(tmp_path / "chain") as store:
        with pytest.raises(CorruptStore, match="zstd frame"):
            store.load_receipts(0)
        if name == BLOCKS_DB:
            with pytest.raises(CorruptStore):
                store.load_block(0)
