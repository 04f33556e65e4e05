"""The simulated network: regional delay, jitter, bandwidth, loss, partitions and delay spikes.

The base one-way delay between two cities is the model the real node transport uses
(`nodes.runtime.latency.one_way_delay_ms`: great-circle distance, route factor, fibre speed, per-hop
processing). On top of it each directed link between two nodes has a capacity (a message waits
for the ones before it and takes size / bandwidth to leave), an exponential jitter, a loss
probability, and it keeps messages in order (the real transport sends each link's frames in
order over one connection). Partitions cut every link between cities on different sides; a
delay spike adds milliseconds to one city pair. All randomness comes from the kernel's
`random.Random`.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass

from chain.cities import City
from nodes.runtime.latency import one_way_delay_ms
from simulator.scenario import NetworkSpec

BITS_PER_BYTE = 8
BITS_PER_MS_PER_MBPS = 1_000
"""1 Mbit/s moves 1,000 bits per millisecond."""

SIZE_BYTES_FRAME_OVERHEAD = 64
"""Per-message framing and HTTP batching overhead on the wire."""


@dataclass(slots=True)
class LinkState:
    """One directed node-to-node link: when it is free again and its last arrival."""

    free_at_ms: float = 0.0
    last_arrival_ms: float = 0.0


class Network:
    """Decides when (and whether) each message between two nodes arrives."""

    def __init__(self, spec: NetworkSpec, node_cities: dict[str, City], rng: random.Random):
        self.spec = spec
        self.node_cities = dict(node_cities)
        self.random = rng
        self.counters: Counter[str] = Counter()
        self._links: dict[tuple[str, str], LinkState] = {}
        self._base_ms: dict[tuple[City, City], float] = {}
        self._extra_ms: dict[frozenset[City], float] = {}
        self._side: dict[City, int] | None = None
        for a in set(self.node_cities.values()):
            for b in set(self.node_cities.values()):
                self._base_ms[(a, b)] = one_way_delay_ms(a, b)

    # --- faults ------------------------------------------------------------------------------

    def partition(self, groups: tuple[tuple[str, ...], ...]) -> None:
        """Cut every link between cities of different groups.

        Cities no group names keep their links to every side (a partial partition).
        """
        self._side = {City(name): index for index, group in enumerate(groups) for name in group}

    def heal(self) -> None:
        """Remove the partition and every delay spike."""
        self._side = None
        self._extra_ms.clear()

    def add_delay(self, a: str, b: str, extra_ms: float) -> None:
        """Add `extra_ms` to every message between cities a and b (0 removes the spike)."""
        key = frozenset((City(a), City(b)))
        if extra_ms <= 0:
            self._extra_ms.pop(key, None)
        else:
            self._extra_ms[key] = extra_ms

    # --- queries -----------------------------------------------------------------------------

    def connected(self, a: str, b: str) -> bool:
        """Whether nodes a and b are on the same side of the partition."""
        return self.cities_connected(self.node_cities[a], self.node_cities[b])

    def cities_connected(self, a: City, b: City) -> bool:
        """Whether a partition cuts the two cities apart."""
        if self._side is None:
            return True
        side_a, side_b = self._side.get(a), self._side.get(b)
        return side_a is None or side_b is None or side_a == side_b

    def one_way_ms(self, a: City, b: City) -> float:
        """Base plus spike delay between two cities, without jitter or queueing."""
        base = self._base_ms.get((a, b))
        if base is None:
            base = one_way_delay_ms(a, b)
            self._base_ms[(a, b)] = base
        if not self._extra_ms:  # no delay spike anywhere (the usual case)
            return base
        return base + self._extra_ms.get(frozenset((a, b)), 0.0)

    def transfer_ms(self, size_bytes: int) -> float:
        """Time to put `size_bytes` on one link at its bandwidth."""
        bits = (size_bytes + SIZE_BYTES_FRAME_OVERHEAD) * BITS_PER_BYTE
        return bits / (self.spec.bandwidth_mbps * BITS_PER_MS_PER_MBPS)

    def jitter_ms(self) -> float:
        """One draw of the exponential jitter."""
        if self.spec.jitter_ms <= 0:
            return 0.0
        return self.random.expovariate(1.0 / self.spec.jitter_ms)

    # --- sending -----------------------------------------------------------------------------

    def transmit(self, now_ms: float, sender: str, receiver: str, size_bytes: int,
                 channel: str) -> float | None:
        """Arrival time of one message, or None when it is cut off or lost."""
        sent, sent_bytes, cut = _counter_names(channel)
        self.counters[sent] += 1
        self.counters[sent_bytes] += size_bytes
        if not self.connected(sender, receiver):
            self.counters[cut] += 1
            return None
        if self.spec.loss and self.random.random() < self.spec.loss:
            self.counters[f"{channel}_lost"] += 1
            return None
        link = self._links.get((sender, receiver))
        if link is None:
            link = self._links[(sender, receiver)] = LinkState()
        departs = max(now_ms, link.free_at_ms) + self.transfer_ms(size_bytes)
        link.free_at_ms = departs
        propagation = self.one_way_ms(self.node_cities[sender], self.node_cities[receiver])
        arrives = max(departs + propagation + self.jitter_ms(), link.last_arrival_ms)
        link.last_arrival_ms = arrives
        return arrives

    def round_trip_ms(self, a: City, b: City, request_bytes: int, reply_bytes: int) -> float:
        """Request from a to b and its reply (used by queries and block sync)."""
        return (
            self.one_way_ms(a, b) + self.one_way_ms(b, a) + self.transfer_ms(request_bytes)
            + self.transfer_ms(reply_bytes) + self.jitter_ms() + self.jitter_ms()
        )


@functools.cache
def _counter_names(channel: str) -> tuple[str, str, str]:
    """The counters one channel's messages feed: sent, bytes, cut by a partition."""
    return f"{channel}_sent", f"{channel}_bytes", f"{channel}_cut"
