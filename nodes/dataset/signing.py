"""The import's windows of signed batches, built in a worker process beside the nodes.

Building and signing the data set (one secp256k1 signature per transaction and per grant, the
records' canonical JSON, the calldata) is about a tenth of an import's work and needs nothing of
the nodes: a worker process (`spawn`, so it shares no LMDB handle with the importer) builds the
next windows while the nodes' processes run the network over the current one. Windows come
through a bounded queue in order; `PHASE_END` closes the registrations (which
must commit before any grant) and then the rest. As with any `spawn` worker, a script that calls
the import runs it under `if __name__ == "__main__":` (the worker imports the main module).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from nodes.dataset.plan import DatasetPlan, Submission

PHASE_END = "phase-end"
CPU = "cpu"  # the worker's last word: its CPU seconds
QUEUED_WINDOWS = 4  # windows built ahead of the importer (each under 1 MiB)
POLL_S = 1.0


def windows(submissions: Iterator[Submission], block_bytes: int) -> Iterator[list[Submission]]:
    """Consecutive submissions grouped into windows of about `block_bytes` raw bytes."""
    window: list[Submission] = []
    size = 0
    for submission in submissions:
        if window and size + len(submission.raw) > block_bytes:
            yield window
            window, size = [], 0
        window.append(submission)
        size += len(submission.raw)
    if window:
        yield window


def interleaved(*streams: Iterator[Submission]) -> Iterator[Submission]:
    """One submission of each stream in turn, so every sender's work is spread over blocks."""
    for round_of in zip_longest(*streams):
        yield from (submission for submission in round_of if submission is not None)


def phases(plan: DatasetPlan, nonces: dict[str, int]) -> tuple[Iterator[Submission],
                                                                 Iterator[Submission]]:
    """(registrations, then grants and publishes) from each sender's next nonce (`nonces` by
    label); a bureau publishes after its registrations."""
    cities = plan.cities()
    registrations = interleaved(*(plan.registrations(city, nonces[f"bureau:{city}"])
                                  for city in cities))
    rest = interleaved(
        *(plan.grants(city, nonces[f"bank:{city}"]) for city in cities),
        *(plan.publishes(city, nonces[f"bureau:{city}"] + plan.registration_count(city))
          for city in cities))
    return registrations, rest


def _build(plan: DatasetPlan, nonces: dict[str, int], block_bytes: int, out: Any) -> None:
    """The worker: every window of both phases, in order."""
    try:
        for phase in phases(plan, nonces):
            for window in windows(phase, block_bytes):
                out.put(window)
            out.put(PHASE_END)
        out.put((CPU, time.process_time()))
    except BaseException as error:  # the importer reports it
        out.put(RuntimeError(f"building the data set failed: {error!r}"))


@dataclass
class SignedWindows:
    """The worker process and its queue; iterate `phase()` twice."""

    process: Any
    out: Any

    @staticmethod
    def start(plan: DatasetPlan, nonces: dict[str, int], block_bytes: int) -> SignedWindows:
        """Start building in a fresh process."""
        context = multiprocessing.get_context("spawn")
        out = context.Queue(QUEUED_WINDOWS)
        process = context.Process(target=_build, args=(plan, nonces, block_bytes, out),
                                  daemon=True, name="dataset-signer")
        process.start()
        return SignedWindows(process, out)

    def _next(self) -> Any:
        while True:
            try:
                item = self.out.get(timeout=POLL_S)
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError("the data set's signer ended early (exit code "
                                       f"{self.process.exitcode})") from None
                continue
            if isinstance(item, Exception):
                raise item
            return item

    def phase(self) -> Iterator[list[Submission]]:
        """The windows of the next phase."""
        while (item := self._next()) != PHASE_END:
            yield item

    def cpu_s(self) -> float:
        """The worker's CPU seconds, told after both phases."""
        item = self._next()
        if not (isinstance(item, tuple) and item[0] == CPU):
            raise RuntimeError(f"the data set's signer sent {item!r} after its last phase")
        return float(item[1])

    def close(self) -> None:
        """Stop the worker if it is still running."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.out.close()
