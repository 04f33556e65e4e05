"""The mempool: admitted transactions waiting for a block.

Bounded (a named limit on transactions and on transactions per sender), deduplicated by hash,
ordered per sender by nonce, and selected for a block in arrival order of each sender's next
nonce. When full, a newcomer is refused; the node evicts transactions that a committed block
made stale (`remove_committed`).

Gapped transactions (a nonce above the sender's next usable one) are held on a short leash: at
most `MEMPOOL_GAPPED_PER_SENDER` per sender, dropped after `GAPPED_EXPIRY_MS` of chain time
(`expire_gapped`), never counted as work that asks consensus for a block (`ready_count`), and
evicted to make room for a transaction that fills a gap, so gapped transactions cannot wedge an
account.

Enterprise grant nonces spent by pending `grant` / `revoke_grant` calls are tracked too
(`pending_grant_nonce`), so a second signature with the same nonce is refused at once.

Each sender's run of contiguous nonces is remembered (`runs`) and kept up to date by every
insertion and removal, so admitting a transaction and counting the ready ones cost the same with
ten pending transactions as with ten thousand: a node under a backlog does not spend more per
transaction the longer its queue grows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chain.crypto import Address
from chain.errors import DuplicateTransaction, MempoolFull, NonceGap
from chain.transactions import AdmittedTransaction

MEMPOOL_TRANSACTIONS = 50_000  # about 100 full blocks
MEMPOOL_PER_SENDER = 1_024  # one institution may not fill the pool
MAX_NONCE_AHEAD = MEMPOOL_PER_SENDER  # how far past the committed nonce a sender may queue
MEMPOOL_GAPPED_PER_SENDER = 64  # future nonces a sender may park behind a gap
GAPPED_EXPIRY_MS = 60_000  # chain time a transaction may wait behind a gap before it is dropped

GrantKey = tuple[bytes, int]
"""(enterprise bytes32, grant nonce) spent by a pending grant or revocation."""

NonceRun = tuple[int, int]
"""(first, end): a sender has every nonce from `first` up to `end` pending, and not `end`."""


@dataclass(slots=True)
class Mempool:
    """Pending transactions by sender and nonce; `arrival` keeps first-come order of senders."""

    capacity: int = MEMPOOL_TRANSACTIONS
    per_sender: int = MEMPOOL_PER_SENDER
    gapped_per_sender: int = MEMPOOL_GAPPED_PER_SENDER
    by_hash: dict[bytes, AdmittedTransaction] = field(default_factory=dict)
    by_sender: dict[Address, dict[int, AdmittedTransaction]] = field(default_factory=dict)
    arrival: dict[Address, int] = field(default_factory=dict)
    admitted_at_ms: dict[bytes, int] = field(default_factory=dict)
    grant_keys: dict[bytes, GrantKey] = field(default_factory=dict)
    grant_nonces: dict[bytes, set[int]] = field(default_factory=dict)
    runs: dict[Address, NonceRun] = field(default_factory=dict)
    _sequence: int = 0
    revision: int = 0  # bumped by every insertion and removal (callers memoize on it)

    def __len__(self) -> int:
        return len(self.by_hash)

    def __contains__(self, transaction_hash: bytes) -> bool:
        return transaction_hash in self.by_hash

    def pending_nonce(self, sender: Address, committed_nonce: int) -> int:
        """The next nonce the sender can use, counting its contiguous pending transactions."""
        queued = self.by_sender.get(sender)
        if not queued:
            return committed_nonce
        run = self.runs.get(sender)
        if run is not None and run[0] <= committed_nonce <= run[1]:
            return run[1]
        nonce = committed_nonce
        while nonce in queued:
            nonce += 1
        self.runs[sender] = (committed_nonce, nonce)
        return nonce

    def pending_grant_nonce(self, enterprise: bytes, committed_nonce: int) -> int:
        """The enterprise's next grant nonce counting its contiguous pending grants."""
        pending = self.grant_nonces.get(enterprise, set())
        nonce = committed_nonce
        while nonce in pending:
            nonce += 1
        return nonce

    def add(self, admitted: AdmittedTransaction,
            next_nonce: Callable[[Address], int] | None = None, chain_time_ms: int = 0,
            grant: GrantKey | None = None) -> None:
        """Queue a transaction; DuplicateTransaction, NonceGap or MempoolFull if it cannot be.

        next_nonce: each sender's nonce after the last block, to tell a gapped transaction
        (limited per sender) from one that extends its sender's run (which may evict a gapped
        one to find room); chain_time_ms: the head's timestamp, from which a gapped transaction
        expires; grant: the enterprise grant nonce the call spends.
        """
        if admitted.hash in self.by_hash:
            raise DuplicateTransaction(
                f"transaction 0x{admitted.hash.hex()} is already pending", "raw")
        queued = self.by_sender.get(admitted.sender, {})
        if admitted.nonce in queued:
            raise DuplicateTransaction(
                f"a transaction with nonce {admitted.nonce} from 0x{admitted.sender.hex()} is "
                "already pending", field="nonce")
        if grant is not None and grant[1] in self.grant_nonces.get(grant[0], set()):
            raise DuplicateTransaction(
                f"a grant or revocation with the enterprise's grant nonce {grant[1]} is "
                "already pending", field="grant_nonce")
        if next_nonce is not None:
            self._make_room(admitted, next_nonce)
        queued = self.by_sender.get(admitted.sender, {})
        if len(self.by_hash) >= self.capacity or len(queued) >= self.per_sender:
            raise MempoolFull(
                f"mempool holds {len(self.by_hash)} transactions "
                f"({len(queued)} from this sender); try again after the next block")
        queued = self.by_sender.setdefault(admitted.sender, {})
        queued[admitted.nonce] = admitted
        run = self.runs.get(admitted.sender)
        if run is not None and admitted.nonce == run[1]:
            end = run[1] + 1
            while end in queued:  # transactions parked behind the gap join the run
                end += 1
            self.runs[admitted.sender] = (run[0], end)
        self.by_hash[admitted.hash] = admitted
        self.revision += 1
        self.admitted_at_ms[admitted.hash] = chain_time_ms
        if grant is not None:
            self.grant_keys[admitted.hash] = grant
            self.grant_nonces.setdefault(grant[0], set()).add(grant[1])
        if admitted.sender not in self.arrival:
            self._sequence += 1
            self.arrival[admitted.sender] = self._sequence

    def _gapped(self, sender: Address, next_nonce: Callable[[Address], int]) -> list[int]:
        """The sender's pending nonces behind a gap, ascending."""
        run_end = self.pending_nonce(sender, next_nonce(sender))
        return sorted(n for n in self.by_sender.get(sender, {}) if n > run_end)

    def _make_room(self, admitted: AdmittedTransaction,
                   next_nonce: Callable[[Address], int]) -> None:
        sender = admitted.sender
        queued = self.by_sender.get(sender, {})
        run_end = self.pending_nonce(sender, next_nonce(sender))
        if admitted.nonce > run_end:
            gapped = self._gapped(sender, next_nonce)
            if len(gapped) >= self.gapped_per_sender:
                raise NonceGap(
                    f"0x{sender.hex()} already parks {len(gapped)} transactions behind a nonce "
                    f"gap (the limit); send nonce {run_end} first", field="nonce")
            return
        gapped = self._gapped(sender, next_nonce) if len(queued) >= self.per_sender else []
        if gapped:
            self._remove(queued[gapped[-1]])  # a run extension outranks the sender's gapped one
        if len(self.by_hash) >= self.capacity:
            for other in list(self.by_sender):
                other_gapped = self._gapped(other, next_nonce)
                if other_gapped:
                    self._remove(self.by_sender[other][other_gapped[-1]])
                    return

    def _remove(self, admitted: AdmittedTransaction) -> None:
        self.revision += 1
        queued = self.by_sender.get(admitted.sender, {})
        queued.pop(admitted.nonce, None)
        run = self.runs.get(admitted.sender)
        if run is not None and run[0] <= admitted.nonce < run[1]:
            # the run loses its first nonce (committed) or ends where this one was
            self.runs[admitted.sender] = ((run[0] + 1, run[1]) if admitted.nonce == run[0]
                                          else (run[0], admitted.nonce))
        self.by_hash.pop(admitted.hash, None)
        self.admitted_at_ms.pop(admitted.hash, None)
        grant = self.grant_keys.pop(admitted.hash, None)
        if grant is not None:
            nonces = self.grant_nonces.get(grant[0], set())
            nonces.discard(grant[1])
            if not nonces:
                self.grant_nonces.pop(grant[0], None)
        if not queued:
            self.by_sender.pop(admitted.sender, None)
            self.arrival.pop(admitted.sender, None)
            self.runs.pop(admitted.sender, None)

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

    def ready_count(self, next_nonce: Callable[[Address], int], limit: int) -> int:
        """How many transactions could go into a block now (at most `limit`): gapped ones are
        not work, so they never ask consensus for a block."""
        count = 0
        for sender in self.by_sender:
            nonce = next_nonce(sender)
            count += self.pending_nonce(sender, nonce) - nonce
            if count >= limit:
                return limit
        return count

    def expire_gapped(self, next_nonce: Callable[[Address], int], chain_time_ms: int,
                      expiry_ms: int = GAPPED_EXPIRY_MS) -> int:
        """Drop transactions that waited behind a gap for over `expiry_ms` of chain time."""
        expired: list[AdmittedTransaction] = []
        for sender, queued in self.by_sender.items():
            run_end = self.pending_nonce(sender, next_nonce(sender))
            expired.extend(admitted for nonce, admitted in queued.items() if nonce > run_end
                           and chain_time_ms - self.admitted_at_ms.get(admitted.hash, 0)
                           > expiry_ms)
        for admitted in expired:
            self._remove(admitted)
        return len(expired)

    def remove_committed(self, committed_nonces: Mapping[Address, int]) -> int:
        """Drop every pending transaction whose nonce a committed block used; returns how many."""
        removed = 0
        for sender, next_nonce in committed_nonces.items():
            queued = self.by_sender.get(sender)
            if not queued:
                continue
            for nonce in [n for n in queued if n < next_nonce]:
                self._remove(queued[nonce])
                removed += 1
        return removed
