"""The journal: ordered replay, torn tails cut, shared group commits, acks that survive kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nodes.storage.journal import Journal, encode_record

WRITER = Path(__file__).with_name("journal_writer.py")


def test_records_replay_in_order_after_close(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    journal = Journal(path)
    for number in range(5):
        journal.append(f"r{number}".encode())
    journal.close()
    assert Journal(path).replay() == [b"r0", b"r1", b"r2", b"r3", b"r4"]


def test_a_torn_or_corrupt_tail_is_cut_and_later_appends_follow(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.append(b"whole")
    journal.close()
    with open(path, "ab") as file:
        file.write(encode_record(b"torn record")[:-3])
    reopened = Journal(path)
    assert reopened.replay() == [b"whole"]
    assert path.stat().st_size == len(encode_record(b"whole"))
    reopened.append(b"next")
    reopened.close()
    assert Journal(path).replay() == [b"whole", b"next"]
    corrupt = bytearray(path.read_bytes())
    corrupt[-1] ^= 0xFF  # last byte of "next": its CRC no longer matches
    path.write_bytes(bytes(corrupt))
    assert Journal(path).replay() == [b"whole"]


def test_concurrent_appends_share_group_commits(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.journal")

    async def one(number: int) -> None:
        journal.append(str(number).encode())
        await journal.durable()

    async def many() -> None:
        await asyncio.gather(*(one(number) for number in range(200)))

    asyncio.run(many())
    assert journal.synced == journal.appended == 200
    assert 1 <= journal.fsyncs < 200
    journal.close()
    assert len(Journal(tmp_path / "j.journal").replay()) == 200


def test_durable_returns_at_once_when_nothing_is_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.journal")

    async def idle() -> None:
        await journal.durable()

    asyncio.run(idle())
    assert journal.fsyncs == 0


def test_rewrite_keeps_only_the_given_records(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    journal = Journal(path)
    for number in range(10):
        journal.append(f"r{number}".encode())
    journal.rewrite([b"r7", b"r9"])
    journal.append(b"r10")
    journal.close()
    assert Journal(path).replay() == [b"r7", b"r9", b"r10"]
    assert not path.with_suffix(".journal.tmp").exists()


def test_every_acknowledged_record_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    acked: set[int] = set()
    for _ in range(3):
        process = subprocess.Popen([sys.executable, str(WRITER), str(path)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        assert process.stdout is not None
        assert process.stdout.readline().startswith("started")
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("acked"):
                acked.add(int(line.split()[1]))
        os.kill(process.pid, signal.SIGKILL)
        for line in process.stdout:  # acks printed before the kill landed
            if line.startswith("acked"):
                acked.add(int(line.split()[1]))
        process.wait()
        assert process.returncode == -signal.SIGKILL
    replayed = {int(record.split(b"-")[1]) for record in Journal(path).replay()}
    assert acked, "the writer acknowledged nothing"
    assert acked <= replayed, f"lost acknowledged records: {sorted(acked - replayed)[:10]}"
