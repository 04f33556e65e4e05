"""Per-institution rate limits: one token bucket per account, refused requests answer 429.

A bucket holds at most `burst` tokens and refills at `rate_per_s`; each request takes one. The
table of buckets is bounded: past `MAX_BUCKETS` accounts the least recently seen bucket is
dropped (a dropped bucket comes back full, which only ever errs towards letting a request in).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from chain.errors import RateLimited

MAX_BUCKETS = 100_000  # accounts tracked at once; a consortium has a few hundred institutions
DEFAULT_QUERY_RATE_PER_S = 20_000.0  # signed reads per institution: above a node's capacity
DEFAULT_QUERY_BURST = 20_000.0
DEFAULT_WRITE_RATE_PER_S = 5_000.0  # transactions per institution: a block holds 1,000
DEFAULT_WRITE_BURST = 10_000.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained rate and a burst, in requests."""

    rate_per_s: float
    burst: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The node's limits: signed reads and submitted transactions, each per account."""

    queries: RateLimit = RateLimit(DEFAULT_QUERY_RATE_PER_S, DEFAULT_QUERY_BURST)
    writes: RateLimit = RateLimit(DEFAULT_WRITE_RATE_PER_S, DEFAULT_WRITE_BURST)


class RateLimiter:
    """Token buckets by key (an account's 20 bytes)."""

    def __init__(self, limit: RateLimit, what: str) -> None:
        self.limit = limit
        self.what = what
        self.refused = 0
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def take(self, key: bytes, now_s: float) -> None:
        """Spend one token of `key`'s bucket; RateLimited (429) when it is empty."""
        tokens, last = self._buckets.pop(key, (self.limit.burst, now_s))
        tokens = min(self.limit.burst, tokens + (now_s - last) * self.limit.rate_per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now_s)
            self.refused += 1
            raise RateLimited(
                f"0x{key.hex()} exceeded {self.limit.rate_per_s:g} {self.what} per second "
                f"(burst {self.limit.burst:g}); slow down and retry", field="from")
        self._buckets[key] = (tokens - 1.0, now_s)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
