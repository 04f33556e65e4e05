"""Block sync: fetch committed blocks from a peer, verify their certificates, append them.

One `BlockSync` per runtime serves both catch-up at start (from the peer furthest ahead) and the
state machine's `RequestSync`. Batches of SYNC_BATCH_BLOCKS are fetched through the runtime's
`PeerBlocks` port until a batch comes back short; each block's commit certificate is checked
against the validator set before the ledger re-executes and appends it. A refused block stops
the sync (the state machine asks again later, perhaps from another peer).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from chain.blocks import Block, decode_block, encode_block
from chain.consensus.certificate import decode_certificate, verify_certificate
from chain.consensus.validators import ValidatorSet
from chain.ledger import CommittedBlock, Ledger
from nodes.runtime.frames import MAX_FRAME_BYTES, encode_frames
from nodes.runtime.ports import PeerBlocks

LOGGER = logging.getLogger(__name__)
SYNC_BATCH_BLOCKS = 64

Appended = Callable[[CommittedBlock, Block, int, bytes, bool], None]
"""(committed, block, certificate round, previous head hash, notify consensus)."""


@dataclass
class BlockSync:
    """Fetches and appends committed blocks for one runtime."""

    ledger: Ledger
    validator_set: ValidatorSet
    peer_blocks: PeerBlocks
    appended: Appended
    counters: Counter[str]
    syncing: bool = False
    halted: bool = False

    def catch_up(self, then: Callable[[], None]) -> None:
        """From the peer furthest ahead (if any), then `then`."""
        self.syncing = True

        def from_peer(peer: str | None) -> None:
            if self.halted:
                return
            if peer is None:
                self.syncing = False
                then()
            else:
                self._fetch(peer, notify=False, then=then)

        self.peer_blocks.find_ahead(self.ledger.head.height, from_peer)

    def request(self, peer: str) -> None:
        """The state machine asks for blocks from `peer` (ignored while a sync runs)."""
        if self.syncing:
            return
        self.syncing = True
        self._fetch(peer, notify=True)

    def _fetch(self, peer: str, notify: bool, then: Callable[[], None] | None = None) -> None:
        self.peer_blocks.fetch(peer, self.ledger.head.height + 1, SYNC_BATCH_BLOCKS,
                               lambda frames: self._received(peer, frames, notify, then))

    def _received(self, peer: str, frames: list[bytes], notify: bool,
                  then: Callable[[], None] | None) -> None:
        if self.halted:
            return
        applied = 0
        try:
            for frame in frames:
                if not self.apply(frame, notify):
                    break
                applied += 1
        finally:  # whatever happens, a sync that fetches no more is over
            more = applied == SYNC_BATCH_BLOCKS
            if not more:
                self.syncing = False
        if more:
            self._fetch(peer, notify, then)
        elif then is not None:
            then()

    def apply(self, frame: bytes, notify: bool) -> bool:
        """Verify a fetched block's certificate and append it; False if it is refused."""
        try:
            block = decode_block(frame)
            certificate = decode_certificate(block.certificate)
            verify_certificate(certificate, self.validator_set)
            if certificate.block_hash != block.hash or certificate.height != block.height:
                raise ValueError("certificate is for another block")
            if block.height != self.ledger.head.height + 1:
                return False
            previous_hash = self.ledger.head.block_hash
            committed = self.ledger.append_block(block)
        except Exception as error:  # a bad block from a peer is refused and sync stops
            LOGGER.warning("synced block refused: %s", error)
            self.counters["sync_refused"] += 1
            return False
        self.appended(committed, block, certificate.round, previous_hash, notify)
        return True

    def committed_blocks(self, start: int, limit: int) -> list[bytes]:
        """Committed blocks (with certificates) from `start`, for a syncing peer."""
        end = min(self.ledger.head.height, start + min(limit, SYNC_BATCH_BLOCKS) - 1)
        return [encode_block(self.ledger.block(height))
                for height in range(max(start, 1), end + 1)]

    def blocks_from(self, start: int, limit: int) -> bytes:
        """`committed_blocks` as frames, as many as fit one peer frame (the peer asks again
        from where the answer ends)."""
        blocks: list[bytes] = []
        size = 0
        for block in self.committed_blocks(start, limit):
            if blocks and size + len(block) + 4 > MAX_FRAME_BYTES:
                break
            blocks.append(block)
            size += len(block) + 4
        return encode_frames(blocks)
