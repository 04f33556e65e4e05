"""Load a data set into a running network through its HTTP API (`yrdchain dataset --target`).

Any network that answers the REST API will do: `yrdchain up`, Compose, Kubernetes. Each
institution sends its signed batches to its city's first node (`/v1/records` with the
payloads for a publish batch, `/v1/transactions` otherwise), which admits, orders, executes and
commits them like any other transaction. The bureaus' registrations go first and are waited
for (a grant needs its enterprise's key on chain); then the banks' grants and the bureaus'
publishes go in together.

Each sender keeps at most `WINDOW_TRANSACTIONS` uncommitted transactions in flight (the mempool
takes 1,024 per sender), and all senders together at most `IN_FLIGHT_UNITS` uncommitted items:
a node sizes its proposals by transaction count, not by work, so the loader keeps about one
round's worth of work uncommitted. At the end a seeded sample is read back with `eth_call`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator

import httpx

from nodes.dataset.checks import refuse_failed, refuse_loaded, registered_key, sample_checks
from nodes.dataset.figures import LoadFigures
from nodes.dataset.plan import DatasetPlan, Submission

WINDOW_TRANSACTIONS = 512  # uncommitted transactions per sender (mempool: 1,024 per sender)
IN_FLIGHT_UNITS = 4_096  # uncommitted items over all senders (64 full batches)
POLL_INTERVAL_S = 0.25
LOAD_TIMEOUT_S = 24 * 3600.0
HTTP_TIMEOUT_S = 120.0

ProgressListener = Callable[[int, int], None]
"""Told (items committed, items in all) as the load goes."""


class WorkBudget:
    """Uncommitted work (in items) over every sender, bounded by `IN_FLIGHT_UNITS`."""

    def __init__(self, limit: int = IN_FLIGHT_UNITS) -> None:
        self.limit = limit
        self.in_flight = 0
        self.committed = 0

    def fits(self, units: int) -> bool:
        """Whether `units` more may be sent now (one submission always fits an idle budget)."""
        return self.in_flight == 0 or self.in_flight + units <= self.limit


class SenderStream:
    """One institution's signed requests to its home node, at most a window ahead of commits."""

    def __init__(self, client: httpx.AsyncClient, url: str, address: bytes,
                 budget: WorkBudget) -> None:
        self.client = client
        self.url = url
        self.address = "0x" + address.hex()
        self.next_nonce = 0
        self.committed = 0
        self.budget = budget
        self.pending: deque[tuple[int, int]] = deque()  # (nonce, units) sent, not committed

    async def committed_nonce(self) -> int:
        """The sender's committed transaction count on its home node."""
        response = await self.client.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": [self.address, "latest"]})
        self.committed = int(response.json()["result"], 16)
        while self.pending and self.pending[0][0] < self.committed:
            units = self.pending.popleft()[1]
            self.budget.in_flight -= units
            self.budget.committed += units
        return self.committed

    async def run(self, submissions: Iterator[Submission]) -> int:
        """Send every submission; return how many were sent."""
        sent = 0
        for submission in submissions:
            while (self.next_nonce - self.committed >= WINDOW_TRANSACTIONS
                   or not self.budget.fits(submission.units)):
                await asyncio.sleep(POLL_INTERVAL_S)
                await self.committed_nonce()
            self.budget.in_flight += submission.units
            self.pending.append((submission.nonce, submission.units))
            response = await self.client.post(f"{self.url}{submission.path}",
                                              json=submission.document())
            if response.status_code != 202:
                raise RuntimeError(f"{self.url}{submission.path} refused nonce "
                                   f"{submission.nonce} of {self.address}: "
                                   f"{response.status_code} {response.text[:300]}")
            self.next_nonce = submission.nonce + 1
            sent += 1
        return sent

    async def wait_committed(self, deadline: float) -> None:
        """Wait until everything sent is committed."""
        while await self.committed_nonce() < self.next_nonce:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.address}: {self.committed} committed, "
                                   f"{self.next_nonce} sent")
            await asyncio.sleep(POLL_INTERVAL_S)


def home_urls(plan: DatasetPlan, nodes: dict[str, str]) -> dict[str, str]:
    """The first node of each city: where that city's institutions send."""
    urls: dict[str, str] = {}
    for node_id, url in nodes.items():
        urls.setdefault(plan.preset.node(node_id).city.value, url)
    missing = set(plan.cities()) - set(urls)
    if missing:
        raise RuntimeError(f"no node of {sorted(missing)} among the target URLs: every city's "
                           "institutions send to a node of their city")
    return urls


async def load(plan: DatasetPlan, nodes: dict[str, str],
               on_progress: ProgressListener | None = None,
               refuse_present: bool = False) -> LoadFigures:
    """Submit the whole data set to a running network and wait until it is committed;
    `refuse_present`: AlreadyLoaded first if the network holds its enterprises already."""
    urls = home_urls(plan, nodes)
    watch_url = next(iter(nodes.values()))
    total = len(plan.planned) + plan.grants_count + plan.records
    began = time.monotonic()
    deadline = began + LOAD_TIMEOUT_S
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        start_height = await _height(client, watch_url)
        if refuse_present:
            check = registered_key(plan)
            refuse_loaded(check, await _call(client, watch_url, check.to, check.data))
        budget = WorkBudget()

        def stream(label: str, city: str) -> SenderStream:
            return SenderStream(client, urls[city], plan.preset.key(label).address, budget)

        bureaus = {city: stream(f"bureau:{city}", city) for city in urls}
        banks = {city: stream(f"bank:{city}", city) for city in urls}
        for sender in [*bureaus.values(), *banks.values()]:
            sender.next_nonce = await sender.committed_nonce()

        async def report() -> None:
            while on_progress is not None:
                on_progress(budget.committed, total)
                await asyncio.sleep(1.0)
                for sender in [*bureaus.values(), *banks.values()]:
                    if sender.pending:
                        await sender.committed_nonce()

        reporter = asyncio.create_task(report())
        try:
            sent = sum(await asyncio.gather(*(
                bureaus[city].run(plan.registrations(city, bureaus[city].next_nonce))
                for city in urls)))
            for sender in bureaus.values():
                await sender.wait_committed(deadline)
            sent += sum(await asyncio.gather(
                *(banks[city].run(plan.grants(city, banks[city].next_nonce)) for city in urls),
                *(bureaus[city].run(plan.publishes(city, bureaus[city].next_nonce))
                  for city in urls)))
            for sender in [*bureaus.values(), *banks.values()]:
                await sender.wait_committed(deadline)
        finally:
            reporter.cancel()
        if on_progress is not None:
            on_progress(budget.committed, total)
        seconds = time.monotonic() - began
        blocks = await _height(client, watch_url) - start_height
        await verify(client, watch_url, plan)
    return LoadFigures.of(seconds, sent, plan, blocks)


async def _height(client: httpx.AsyncClient, url: str) -> int:
    return int((await client.get(f"{url}/status")).json()["height"])


async def _call(client: httpx.AsyncClient, url: str, to: bytes, data: bytes) -> bytes:
    response = await client.post(f"{url}/rpc", json={
        "jsonrpc": "2.0", "id": 1, "method": "eth_call",
        "params": [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, "latest"]})
    return bytes.fromhex(response.json()["result"][2:])


async def verify(client: httpx.AsyncClient, url: str, plan: DatasetPlan) -> None:
    """Read a seeded sample back with `eth_call`; RuntimeError if one is off."""
    for check in sample_checks(plan):
        refuse_failed(check, await _call(client, url, check.to, check.data))
