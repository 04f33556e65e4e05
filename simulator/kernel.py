"""The discrete-event kernel: a heap of (time_ms, priority, sequence, event) and a virtual clock.

As in SimPy's core, the whole kernel is `schedule` and `pop`: events wait in a heap ordered by
their virtual time, then by priority (faults before deliveries before timers before clients), then
by a sequence number handed out at scheduling time, so two events due at the same millisecond are
always taken in the same order. The kernel owns the run's only source of randomness, one
`random.Random` seeded from the scenario seed; nothing in the simulator reads a wall clock.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

COUNT_MAX_PENDING_EVENTS = 5_000_000
"""Events waiting in the heap; a runaway feedback loop stops here instead of eating memory."""

COUNT_TRACE_EVENTS = 4_000
"""Most recent dispatched events kept for the violation trace (a ring buffer)."""


class Priority(IntEnum):
    """Order of events due at the same virtual millisecond (lower goes first)."""

    FAULT = 0
    """Fault timeline entries: a crash at t happens before deliveries at t."""
    NETWORK = 1
    """Message deliveries and sync replies."""
    NODE = 2
    """A node's own events: timers, built and executed blocks."""
    CLIENT = 3
    """Workload arrivals: transactions and queries."""
    SAMPLE = 4
    """Periodic observers (metrics sampling, progress)."""


class KernelOverflow(RuntimeError):
    """More than COUNT_MAX_PENDING_EVENTS events are waiting."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One scheduled event (the heap holds plain tuples of these fields: faster to compare)."""

    time_ms: float
    priority: int
    sequence: int
    event: object


class Kernel:
    """Virtual clock, event heap and the seeded random source of one run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.random = random.Random(seed)
        self.now_ms = 0.0
        self.dispatched = 0
        self.trace: deque[tuple[float, str]] = deque(maxlen=COUNT_TRACE_EVENTS)
        self._heap: list[tuple[float, int, int, object]] = []
        self._sequence = 0

    def schedule(self, at_ms: float, event: object, priority: Priority) -> None:
        """Queue `event` for virtual time `at_ms` (never earlier than now)."""
        if len(self._heap) >= COUNT_MAX_PENDING_EVENTS:
            raise KernelOverflow(f"over {COUNT_MAX_PENDING_EVENTS} pending events")
        self._sequence += 1
        heapq.heappush(self._heap, (max(at_ms, self.now_ms), int(priority), self._sequence, event))

    def next_time_ms(self) -> float | None:
        """Virtual time of the next event, or None when the heap is empty."""
        return self._heap[0][0] if self._heap else None

    def pop(self) -> Entry:
        """Take the next event and advance the clock to its time."""
        time_ms, priority, sequence, event = heapq.heappop(self._heap)
        self.now_ms = time_ms
        self.dispatched += 1
        return Entry(time_ms, priority, sequence, event)

    def note(self, text: str) -> None:
        """Append a line to the trace ring buffer (what just happened, at the current time)."""
        self.trace.append((self.now_ms, text))

    @property
    def pending(self) -> int:
        """Events waiting in the heap."""
        return len(self._heap)
