"""The mempool journal: acknowledged pending transactions survive a crash of every node.

A transaction a client submitted to this node is appended to `mempool.journal` in the data
directory (`nodes.storage.journal`, group commit) and the answer (202, or the JSON-RPC hash)
leaves only after the group's fsync. At start, after catching up with peers, `restore`
re-admits each journaled transaction through the ledger's full admission (decode, signature,
member, role, nonce): those committed meanwhile fail the nonce check and are dropped, the rest
go back into the mempool and are gossiped again. Committed transactions leave the journal when
it is compacted (`on_commit`, once the file holds far more records than are pending).

Gossiped transactions are not journaled here: the node that acknowledged them holds them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from chain.errors import YrdError
from chain.ledger import CommittedBlock, Ledger
from chain.transactions import AdmittedTransaction
from nodes.storage.journal import Journal

LOGGER = logging.getLogger(__name__)
JOURNAL_FILE_NAME = "mempool.journal"
COMPACT_SLACK_RECORDS = 4_096  # compact once the file holds this many records beyond pending


class PendingJournal:
    """The journal of this node's acknowledged, not yet committed transactions."""

    def __init__(self, path: Path) -> None:
        self.journal = Journal(path)
        self._pending: dict[bytes, bytes] = {}  # transaction hash -> raw
        self._records_in_file = 0
        self.restored = 0
        self.dropped = 0

    def record(self, admitted: AdmittedTransaction) -> None:
        """Journal an admitted transaction (durable once `durable()` returns)."""
        raw = admitted.transaction.raw
        self._pending[admitted.hash] = raw
        self.journal.append(raw)
        self._records_in_file += 1

    async def durable(self) -> None:
        """Wait until every journaled transaction is fsynced."""
        await self.journal.durable()

    def restore(self, ledger: Ledger) -> list[AdmittedTransaction]:
        """Re-admit the journaled transactions still pending; drop the committed or refused."""
        restored: list[AdmittedTransaction] = []
        for raw in self.journal.replay():
            try:
                admitted = ledger.admit(raw)
            except YrdError as error:
                self.dropped += 1
                LOGGER.debug("journaled transaction dropped: %s", error)
                continue
            self._pending[admitted.hash] = raw
            restored.append(admitted)
        self.restored += len(restored)
        self._compact()
        return restored

    def on_commit(self, committed: CommittedBlock) -> None:
        """Forget committed transactions; compact the file when it is mostly committed ones."""
        for admitted in committed.admitted:
            self._pending.pop(admitted.hash, None)
        if self._records_in_file > len(self._pending) + COMPACT_SLACK_RECORDS:
            self._compact()

    def _compact(self) -> None:
        self.journal.rewrite(self._pending.values())
        self._records_in_file = len(self._pending)

    @property
    def pending(self) -> int:
        """Journaled transactions not yet seen committed."""
        return len(self._pending)

    def close(self) -> None:
        """Fsync and close the file."""
        self.journal.close()
