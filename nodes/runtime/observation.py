"""What a node shows of itself while it runs: counters and commit latencies (/status, /metrics)
and the dashboard's event stream (recent events kept for new viewers, listeners told at once).

`NodeRuntime` owns one `NodeMetrics` and one `EventStream`; it publishes typed runtime events
(nodes/runtime/events.py) and other parts of the node publish plain dict events through it.
"""

from __future__ import annotations

import functools
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chain.codec import ChainHead
from chain.consensus.messages import Message, message_kind
from chain.consensus.validators import ValidatorSet
from chain.presets import Preset
from chain.transactions import AdmittedTransaction
from nodes.runtime.events import (
    MessageSent,
    RuntimeEvent,
    RuntimeEventKind,
    encode_runtime_event,
)
from nodes.runtime.histogram import COMMIT_BUCKETS_S, Histogram
from nodes.runtime.ports import Clock

RECENT_EVENTS = 2_000  # what the dashboard's stream can replay to a new viewer
DASHBOARD_REPORTS = frozenset({RuntimeEventKind.ROUND_CHANGE.value,
                               RuntimeEventKind.EQUIVOCATION.value,
                               RuntimeEventKind.INVALID_BLOCK.value})
"""The consensus reports the dashboard shows (the others are counted only)."""


@functools.cache
def snake_case(kind: str) -> str:
    """ "RoundChange" -> "round_change" (dashboard event kinds)."""
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower()
                   for i, c in enumerate(kind))


@dataclass
class NodeMetrics:
    """Counters for /status and /metrics."""

    counters: Counter[str] = field(default_factory=Counter)
    commit_latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    commit_latency: Histogram = field(default_factory=lambda: Histogram(COMMIT_BUCKETS_S))
    submitted_at: dict[bytes, float] = field(default_factory=dict)

    def committed(self, admitted: Iterable[AdmittedTransaction], finished_s: float) -> None:
        """Commit latency of each transaction this node admitted from a client."""
        for transaction in admitted:
            submitted = self.submitted_at.pop(transaction.hash, None)
            if submitted is not None:
                self.commit_latencies_ms.append((finished_s - submitted) * 1000)
                self.commit_latency.observe(finished_s - submitted)


@dataclass(frozen=True, slots=True)
class _Deferred:
    """Events whose shaping waits until someone reads them, with the time they happened."""

    time_ms: int
    produce: Callable[[], list[dict[str, Any]]]


class EventStream:
    """One node's dashboard events: each gets the node, its city and the time, is kept among the
    recent ones and handed to every listener."""

    def __init__(self, node_id: str, city: str, clock: Clock) -> None:
        self.node_id = node_id
        self.city = city
        self.clock = clock
        self._recent: deque[dict[str, Any] | _Deferred] = deque(maxlen=RECENT_EVENTS)
        self._deferred = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    @property
    def recent(self) -> list[dict[str, Any]]:
        """The recent events, oldest first (deferred ones shaped now, once)."""
        if self._deferred:
            expanded: list[dict[str, Any]] = []
            for entry in self._recent:
                if isinstance(entry, _Deferred):
                    expanded += ({"node": self.node_id, "city": self.city,
                                  "time_ms": entry.time_ms, **event}
                                 for event in entry.produce())
                else:
                    expanded.append(entry)
            self._recent.clear()
            self._recent.extend(expanded[-RECENT_EVENTS:])
            self._deferred = 0
        return [entry for entry in self._recent if not isinstance(entry, _Deferred)]

    def emit_deferred(self, produce: Callable[[], list[dict[str, Any]]]) -> None:
        """Events that cost CPU to shape: emitted at once when someone listens, else kept
        unshaped until the recent events are read."""
        if self.listeners:
            for event in produce():
                self.emit(event)
            return
        if len(self._recent) == self._recent.maxlen and isinstance(self._recent[0], _Deferred):
            self._deferred -= 1  # the oldest deferred entry falls off
        self._recent.append(_Deferred(self.clock.now_ms(), produce))
        self._deferred += 1

    def emit(self, event: dict[str, Any]) -> None:
        """Publish a plain event (node, city and time_ms added)."""
        event = {"node": self.node_id, "city": self.city, "time_ms": self.clock.now_ms(),
                 **event}
        if len(self._recent) == self._recent.maxlen and isinstance(self._recent[0], _Deferred):
            self._deferred -= 1
        self._recent.append(event)
        for listener in list(self.listeners):
            listener(event)

    def publish(self, event: RuntimeEvent) -> None:
        """Publish a typed runtime event."""
        self.emit(encode_runtime_event(event))

    def sent(self, message: Message) -> None:
        """A consensus message this node broadcast."""
        self.publish(MessageSent(snake_case(message_kind(message)), message.height,
                                 message.round))


def status_view(node_id: str, city: str, preset: Preset, head: ChainHead, round_number: int,
                mempool: int, connected_peers: list[str],
                validator_set: ValidatorSet) -> dict[str, Any]:
    """What GET /status answers: the node, its chain, its head and round, its peers."""
    return {
        "node_id": node_id,
        "city": city,
        "preset": preset.name,
        "chain_id": preset.chain_id,
        "height": head.height,
        "last_block_hash": "0x" + head.block_hash.hex(),
        "state_root": "0x" + head.state_root.hex(),
        "round": round_number,
        "mempool": mempool,
        "connected_peers": connected_peers,
        "validators": [
            {"node_id": v.node_id, "city": v.city, "public_key": v.public_key.hex()}
            for v in validator_set.validators
        ],
    }
