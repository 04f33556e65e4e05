"""The mempool: admitted transactions waiting for a block.

Bounded (a named limit on transactions and on transactions per sender), deduplicated by hash,
ordered per sender by nonce, and selected for a block in arrival order of each sender's next
nonce. When full, a newcomer is refused; the node evicts transactions that a committed block
made stale (`remove_committed`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chain.crypto import Address
from chain.errors import DuplicateTransaction, MempoolFull
from chain.transactions import AdmittedTransaction

MEMPOOL_TRANSACTIONS = 50_000  # about 100 full blocks
MEMPOOL_PER_SENDER = 1_024  # one institution may not fill the pool
MAX_NONCE_AHEAD = MEMPOOL_PER_SENDER  # how far past the committed nonce a sender may queue


@dataclass(slots=True)
class Mempool:
    """Pending transactions by sender and nonce; `arrival` keeps first-come order of senders."""

    capacity: int = MEMPOOL_TRANSACTIONS
    per_sender: int = MEMPOOL_PER_SENDER
    by_hash: dict[bytes, AdmittedTransaction] = field(default_factory=dict)
    by_sender: dict[Address, dict[int, AdmittedTransaction]] = field(default_factory=dict)
    arrival: dict[Address, int] = field(default_factory=dict)
    _sequence: int = 0

    def __len__(self) -> int:
        return len(self.by_hash)

    def __contains__(self, transaction_hash: bytes) -> bool:
        return transaction_hash in self.by_hash

    def pending_nonce(self, sender: Address, committed_nonce: int) -> int:
        """The next nonce the sender can use, counting its contiguous pending transactions."""
        queued = self.by_sender.get(sender, {})
        nonce = committed_nonce
        while nonce in queued:
            nonce += 1
        return nonce

    def add(self, admitted: AdmittedTransaction) -> None:
        """Queue a transaction; DuplicateTransaction or MempoolFull if it cannot be."""
        if admitted.hash in self.by_hash:
            raise DuplicateTransaction(
                f"transaction 0x{admitted.hash.hex()} is already pending", "raw")
        queued = self.by_sender.setdefault(admitted.sender, {})
        if admitted.nonce in queued:
            raise DuplicateTransaction(
                f"a transaction with nonce {admitted.nonce} from 0x{admitted.sender.hex()} is "
                "already pending", field="nonce")
        if len(self.by_hash) >= self.capacity or len(queued) >= self.per_sender:
            if not queued:
                del self.by_sender[admitted.sender]
            raise MempoolFull(
                f"mempool holds {len(self.by_hash)} transactions "
                f"({len(queued)} from this sender); try again after the next block")
        queued[admitted.nonce] = admitted
        self.by_hash[admitted.hash] = admitted
        if admitted.sender not in self.arrival:
            self._sequence += 1
            self.arrival[admitted.sender] = self._sequence

    def select(self, next_nonce: Callable[[Address], int], limit: int) -> list[
            AdmittedTransaction]:
        """Up to `limit` transactions that can execute in order: each sender's run of nonces.

        `next_nonce` gives a sender's nonce after the last committed block.
        """
        chosen: list[AdmittedTransaction] = []
        for sender in sorted(self.arrival, key=self.arrival.__getitem__):
            queued = self.by_sender.get(sender, {})
            nonce = next_nonce(sender)
            while nonce in queued and len(chosen) < limit:
                chosen.append(queued[nonce])
                nonce += 1
            if len(chosen) >= limit:
                break
        return chosen

    def remove_committed(self, committed_nonces: Mapping[Address, int]) -> int:
        """Drop every pending transaction whose nonce a committed block used; returns how many."""
        removed = 0
        for sender, next_nonce in committed_nonces.items():
            queued = self.by_sender.get(sender)
            if not queued:
                continue
            for nonce in [n for n in queued if n < next_nonce]:
                del self.by_hash[queued.pop(nonce).hash]
                removed += 1
            if not queued:
                del self.by_sender[sender]
                self.arrival.pop(sender, None)
        return removed
