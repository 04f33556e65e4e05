"""A writer killed with SIGKILL at random moments never leaves a partial block behind.

Writer processes (`crash_writer.py`, forked by its fork server so that each starts in
milliseconds rather than paying py-evm's imports) append blocks of signed publishes to an LMDB
store and report each commit; the test kills each writer after a seeded random delay, many times.
After every kill the test reopens the store and checks that it holds a prefix of the chain ending
at a whole block: every height up to the head has its block, receipts and hash, nothing lies
beyond the head, and a reference ledger on an in-memory store, fed the stored blocks from genesis,
re-executes them to the same state roots, block hashes, receipts, index entries, state nodes and
table rows, whose set hash must be the one the head's state root commits to.
Every commit a writer acknowledged is at or below the head. Then the next writer resumes there.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from chain.blocks import decode_block
from chain.codec import ChainHead, decode_head
from chain.genesis import Genesis
from chain.ledger import Ledger, check_tables
from chain.storage import MemoryBlockStore
from nodes.storage.blocks import LmdbBlockStore
from tests.nodes.crash_writer import DEFAULT_MAX_HEIGHT

WRITER = Path(__file__).with_name("crash_writer.py")
REPOSITORY = Path(__file__).resolve().parents[2]
SEED = 20201225  # the presets' genesis date
KILL_CYCLES = 25
KILL_DELAY_S_MAX = 0.4  # after the writer started: from opening the store to about ten blocks
WRITER_START_TIMEOUT_S = 60.0  # the server's imports and genesis take ~1.5 s; generous for load
WRITER_EXIT_TIMEOUT_S = 60.0
FINAL_BLOCKS = 2  # blocks a last, unkilled writer appends to show the chain goes on


@dataclass
class Reference:
    """An in-memory ledger that has replayed every block found in the store so far."""

    store: MemoryBlockStore
    ledger: Ledger


@dataclass(frozen=True, slots=True)
class WriterRun:
    """What one writer process said before it died."""

    lines: tuple[str, ...]
    returncode: int

    @property
    def resumed(self) -> tuple[int, ...]:
        """The head it resumed from, if it got that far."""
        return tuple(int(line.split()[1]) for line in self.lines if line.startswith("resumed "))

    @property
    def committed(self) -> tuple[int, ...]:
        """The heights it acknowledged as committed."""
        return tuple(int(line.split()[1]) for line in self.lines if line.startswith("committed "))


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        if line.endswith("\n"):  # a line cut short by the kill was never acknowledged
            lines.put(line.rstrip("\n"))
    lines.put(None)


class ForkServer:
    """The writer's fork server as a subprocess, and the lines it and its writers print."""

    def __init__(self, log: Path) -> None:
        self.log = log
        with log.open("a") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(WRITER), "--fork-server"], cwd=REPOSITORY,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert self.process.stdout is not None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.pump = threading.Thread(target=_pump, args=(self.process.stdout, self.lines),
                                     daemon=True)
        self.pump.start()
        self.writer_pid: int | None = None  # the writer running now, if any
        self.expect("ready", WRITER_START_TIMEOUT_S)

    def next_line(self, timeout_s: float) -> str:
        """The next line printed; fails the test when none comes in time."""
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            pytest.fail(f"no word from the writer in {timeout_s} s:\n{self.log.read_text()}")
        if line is None:
            pytest.fail(f"the fork server ended:\n{self.log.read_text()}")
        return line

    def expect(self, prefix: str, timeout_s: float, said: list[str] | None = None) -> str:
        """Read lines (into `said`) until one starts with `prefix`; that line."""
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() >= deadline:
                pytest.fail(f"no {prefix!r} from the writer in {timeout_s} s; it said "
                            f"{(said or [])[-5:]}:\n{self.log.read_text()}")
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if said is not None:
                said.append(line)
            if line.startswith(prefix):
                return line
            if prefix in line:  # a writer's cut line with the server's next one glued on
                pytest.fail(f"a line cut short: {line!r} (writers must write whole lines)")

    def run_writer(self, data: Path, kill_after_s: float | None,
                   max_height: int = DEFAULT_MAX_HEIGHT) -> WriterRun:
        """Fork a writer; SIGKILL it `kill_after_s` after it started (None: let it end)."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{data} {max_height}\n")
        self.process.stdin.flush()
        said: list[str] = []
        pid = int(self.expect("started ", WRITER_START_TIMEOUT_S, said).split()[1])
        self.writer_pid = pid
        if kill_after_s is not None:
            time.sleep(kill_after_s)
            os.kill(pid, signal.SIGKILL)
        exited = self.expect(f"exited {pid} ", WRITER_EXIT_TIMEOUT_S, said)
        self.writer_pid = None
        return WriterRun(tuple(said), int(exited.split()[2]))

    def close(self) -> None:
        """End the server (it ends when its stdin does) and any writer a failure left running."""
        if self.writer_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.writer_pid, signal.SIGKILL)
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=WRITER_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.pump.join(timeout=WRITER_EXIT_TIMEOUT_S)


def check_store(data: Path, reference: Reference) -> ChainHead | None:
    """Reopen the store and check it holds a whole-block prefix of the chain; its head."""
    with LmdbBlockStore(data) as store:
        raw_head = store.load_head()
        if raw_head is None:
            assert store.load_block(0) is None, "a block without a head"
            assert store.scan_index(b"", 1) == [], "index entries without a head"
            assert store.scan_rows(b"", 1) == [], "table rows without a head"
            return None
        head = decode_head(raw_head)
        assert store.load_block(head.height + 1) is None, "a block beyond the head"
        assert store.load_receipts(head.height + 1) is None, "receipts beyond the head"
        top = decode_block(store.load_block(head.height) or b"")
        assert top.hash == head.block_hash
        assert top.header.state_root == head.state_root
        assert store.load_state_node(head.state_root) is not None
        for height in range(reference.ledger.head.height + 1, head.height + 1):
            reference.ledger.append_block(decode_block(store.load_block(height) or b""))
        assert reference.ledger.head == head
        for height in range(head.height + 1):
            assert store.load_block(height) == reference.store.blocks[height], height
            assert store.load_receipts(height) == reference.store.receipts[height], height
        for block_hash, height in reference.store.heights.items():
            assert store.load_height(block_hash) == height
        assert store.scan_index(b"", 1 << 30) == sorted(reference.store.index.items())
        missing = [key for key, node in reference.store.state.items()
                   if store.load_state_node(key) != node]
        assert missing == [], f"{len(missing)} state nodes missing or different"
        rows = store.scan_rows(b"", 1 << 30)
        assert rows == sorted(reference.store.rows.items()), "table rows differ from re-execution"
        check_tables(store, head.state_root)  # the head's root commits to exactly these rows
    return head


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")
def test_killed_writers_leave_whole_blocks_and_lose_no_acknowledged_commit(
        genesis: Genesis, tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "writer.log"
    rng = random.Random(SEED)
    memory = MemoryBlockStore()
    reference = Reference(memory, Ledger(memory, genesis))
    server = ForkServer(log)
    try:
        check_kill_cycles(server, data, reference, rng)
    finally:
        server.close()


def check_kill_cycles(server: ForkServer, data: Path, reference: Reference,
                      rng: random.Random) -> None:
    """Kill writers again and again, checking the store after each; then let one finish."""
    durable = -1  # the highest height known to be on disk
    for _ in range(KILL_CYCLES):
        run = server.run_writer(data, kill_after_s=rng.uniform(0.0, KILL_DELAY_S_MAX))
        assert run.returncode == -signal.SIGKILL, server.log.read_text()
        assert run.resumed in ((), (max(durable, 0),)), "the writer resumed elsewhere"
        head = check_store(data, reference)
        height = head.height if head is not None else -1
        assert height >= durable, f"head {height} fell behind the earlier head {durable}"
        assert all(committed <= height for committed in run.committed), (
            f"acknowledged {max(run.committed)} but the store holds up to {height}")
        durable = height
    target = max(durable, 0) + FINAL_BLOCKS
    last = server.run_writer(data, kill_after_s=None, max_height=target)
    assert last.returncode == 0, server.log.read_text()
    head = check_store(data, reference)
    assert head is not None and head.height == target
    assert last.committed == tuple(range(max(durable, 0) + 1, target + 1))
