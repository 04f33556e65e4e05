"""Polling filters: eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter.

A filter remembers the first height it has not reported yet (log and block filters) or the
pending transactions it has already reported (pending filters); each poll answers what is new
and moves on. Filters are one per node (they live in the writer process that commits blocks),
bounded in number (`MAX_FILTERS`) and in idle time (`FILTER_IDLE_TIMEOUT_S`, as go-ethereum's
five-minute deadline): a filter nobody polls is removed, and a full book refuses a new one with
-32005 after dropping the expired ones. One poll scans at most `MAX_LOG_BLOCK_RANGE` blocks; a
client far behind gets the rest on its next polls.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chain.ledger import Ledger
from nodes.api.eth_shapes import data
from nodes.api.rpc_logs import LIMIT_EXCEEDED, MAX_LOG_BLOCK_RANGE, collect_logs
from nodes.api.rpc_params import (
    LogCriteria,
    RpcError,
    invalid_params,
    param,
    parse_log_criteria,
    parse_quantity,
)

MAX_FILTERS = 1_000  # per node: each holds criteria and, for pending filters, seen hashes
FILTER_IDLE_TIMEOUT_S = 300.0  # a filter not polled for five minutes is uninstalled
FILTER_ID_BYTES = 16
FILTER_NOT_FOUND = -32000


class FilterKind(Enum):
    """What a filter reports."""

    LOGS = "logs"
    BLOCKS = "blocks"
    PENDING_TRANSACTIONS = "pending transactions"


@dataclass
class InstalledFilter:
    """One filter's criteria and how far its polls have come."""

    kind: FilterKind
    next_height: int
    last_polled_s: float
    criteria: LogCriteria = field(default_factory=lambda: LogCriteria(None, ()))
    from_tag: Any = "latest"
    to_tag: Any = "latest"
    seen_pending: frozenset[bytes] = frozenset()


class FilterBook:
    """The node's installed filters, by id."""

    def __init__(self, ledger: Ledger, height_of: Callable[[Any], int],
                 clock_s: Callable[[], float]) -> None:
        self.ledger = ledger
        self.height_of = height_of
        self.clock_s = clock_s
        self.filters: dict[str, InstalledFilter] = {}

    def methods(self) -> dict[str, Callable[[list[Any]], Any]]:
        """The JSON-RPC methods this class answers."""
        return {
            "eth_newFilter": self.new_log_filter,
            "eth_newBlockFilter": lambda _: self._install(self._fresh(FilterKind.BLOCKS)),
            "eth_newPendingTransactionFilter": lambda _: self._install(self._fresh(
                FilterKind.PENDING_TRANSACTIONS, frozenset(self.ledger.mempool.by_hash))),
            "eth_getFilterChanges": self.changes,
            "eth_getFilterLogs": self.all_logs,
            "eth_uninstallFilter": self.uninstall,
        }

    def _fresh(self, kind: FilterKind, seen: frozenset[bytes] = frozenset()) -> InstalledFilter:
        return InstalledFilter(kind, self.ledger.head.height + 1, self.clock_s(),
                               seen_pending=seen)

    def _install(self, installed: InstalledFilter) -> str:
        if len(self.filters) >= MAX_FILTERS:
            self.expire()
        if len(self.filters) >= MAX_FILTERS:
            raise RpcError(LIMIT_EXCEEDED, f"this node holds {MAX_FILTERS} filters; uninstall "
                           "one or wait for idle ones to expire")
        identifier = hex(int.from_bytes(secrets.token_bytes(FILTER_ID_BYTES), "big") | 1)
        self.filters[identifier] = installed
        return identifier

    def expire(self) -> None:
        """Remove the filters nobody polled within `FILTER_IDLE_TIMEOUT_S`."""
        now = self.clock_s()
        for identifier in [key for key, value in self.filters.items()
                           if now - value.last_polled_s > FILTER_IDLE_TIMEOUT_S]:
            del self.filters[identifier]

    def _find(self, params: list[Any]) -> InstalledFilter:
        identifier = param(params, 0)
        if not isinstance(identifier, str):
            raise invalid_params("the filter id must be a 0x-hex string")
        self.expire()
        installed = self.filters.get(identifier.lower())
        if installed is None:
            raise RpcError(FILTER_NOT_FOUND, "filter not found (it expired after "
                           f"{FILTER_IDLE_TIMEOUT_S:.0f} s without a poll, or was uninstalled)")
        installed.last_polled_s = self.clock_s()
        return installed

    def new_log_filter(self, params: list[Any]) -> str:
        """eth_newFilter({fromBlock, toBlock, address, topics})."""
        query = param(params, 0)
        if not isinstance(query, dict):
            raise invalid_params("the filter must be an object")
        from_tag = query.get("fromBlock", "latest")
        to_tag = query.get("toBlock", "latest")
        for tag, name in ((from_tag, "fromBlock"), (to_tag, "toBlock")):
            if tag not in ("latest", "earliest", "pending", "safe", "finalized", None):
                parse_quantity(tag, name)
        installed = self._fresh(FilterKind.LOGS)
        installed.criteria = parse_log_criteria(query)
        installed.from_tag, installed.to_tag = from_tag, to_tag
        if isinstance(from_tag, str) and from_tag.startswith("0x"):
            installed.next_height = max(1, int(from_tag, 16))
        return self._install(installed)

    def _last_wanted(self, installed: InstalledFilter) -> int:
        head = self.ledger.head.height
        if isinstance(installed.to_tag, str) and installed.to_tag.startswith("0x"):
            return min(head, int(installed.to_tag, 16))
        return head

    def changes(self, params: list[Any]) -> list[Any]:
        """eth_getFilterChanges(id): what happened since the last poll."""
        installed = self._find(params)
        if installed.kind is FilterKind.PENDING_TRANSACTIONS:
            pending = self.ledger.mempool.by_hash
            new = [data(digest) for digest in pending if digest not in installed.seen_pending]
            installed.seen_pending = frozenset(pending)
            return new
        first = installed.next_height
        last = min(self._last_wanted(installed), first + MAX_LOG_BLOCK_RANGE - 1)
        if last < first:
            return []
        installed.next_height = last + 1
        if installed.kind is FilterKind.BLOCKS:
            return [data(self.ledger.block(height).hash) for height in range(first, last + 1)]
        return collect_logs(self.ledger, first, last, installed.criteria)

    def all_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        """eth_getFilterLogs(id): every log the filter's range and criteria match now."""
        installed = self._find(params)
        if installed.kind is not FilterKind.LOGS:
            raise invalid_params(f"filter is a {installed.kind.value} filter, not a log filter")
        return collect_logs(self.ledger, self._clamped(installed.from_tag),
                            self._clamped(installed.to_tag), installed.criteria)

    def _clamped(self, tag: Any) -> int:
        if isinstance(tag, str) and tag.startswith("0x"):
            return min(int(tag, 16), self.ledger.head.height)
        return self.height_of(tag)

    def uninstall(self, params: list[Any]) -> bool:
        """eth_uninstallFilter(id): True if it existed."""
        identifier = param(params, 0)
        if not isinstance(identifier, str):
            raise invalid_params("the filter id must be a 0x-hex string")
        return self.filters.pop(identifier.lower(), None) is not None
