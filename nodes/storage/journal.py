"""The journal: append-only, checksummed records made durable in group commits.

One module serves every piece of acknowledged work a node must not lose between blocks: the
audit trail's entries and confirmed batches, and the mempool's pending transactions. A caller
appends a record (it goes to an in-memory group, no system call) and awaits `durable()`: one
committer task writes the whole group with one `write`, fsyncs it in a worker thread while the
loop keeps serving, and wakes every waiter the fsync covered. So N requests arriving together
cost one fsync, and a request is answered only after its record is on disk: it survives
`kill -9` of the process (and a power loss, as far as the disk honours fsync).

Record format: 4-byte big-endian length, 4-byte CRC-32 of the body, body. `replay` reads
records in order and stops at the first torn or corrupt one, cutting the file there (a crash
in the middle of a write loses only records nobody was told about). `rewrite` compacts: it
writes the records still wanted to a temporary file, fsyncs it, renames it over the journal and
fsyncs the directory.

ADR 0012 records the design.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

HEADER_BYTES = 8  # length (4) + CRC-32 (4)
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a bigger length prefix means a corrupt tail
MAX_GROUP_BYTES = 8 * 1024 * 1024  # one group's write; larger groups are split in several


def encode_record(body: bytes) -> bytes:
    """A record as it lies in the file: length, CRC-32, body."""
    return len(body).to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big") + body


def decode_records(data: bytes) -> tuple[list[bytes], int]:
    """The whole records at the start of `data` and how many bytes they take."""
    records: list[bytes] = []
    position = 0
    while position + HEADER_BYTES <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        checksum = int.from_bytes(data[position + 4:position + 8], "big")
        end = position + HEADER_BYTES + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        body = data[position + HEADER_BYTES:end]
        if zlib.crc32(body) != checksum:
            break
        records.append(body)
        position = end
    return records, position


class Journal:
    """One append-only journal file with group commit.

    `appended` counts records handed to `append` since the file was opened; `synced` how many
    of them a finished fsync covers. `fsyncs` counts group commits (one per group, not per
    record).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._group = bytearray()
        self.appended = 0
        self.synced = 0
        self.fsyncs = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    def replay(self) -> list[bytes]:
        """Every whole record in the file, in order; a torn or corrupt tail is cut off."""
        with open(self.path, "rb") as file:
            data = file.read()
        records, good = decode_records(data)
        if good < len(data):
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
        return records

    def append(self, body: bytes) -> int:
        """Add a record to the current group; returns its number (1, 2, ... since open)."""
        if len(body) > MAX_RECORD_BYTES:
            raise ValueError(f"a journal record holds at most {MAX_RECORD_BYTES} bytes")
        self._group += encode_record(body)
        self.appended += 1
        return self.appended

    def sync(self) -> None:
        """Write and fsync everything appended, on the caller's thread (start-up, shutdown)."""
        target = self.appended
        self._write_group()
        os.fsync(self._fd)
        self.fsyncs += 1
        self.synced = target

    async def durable(self) -> None:
        """Return once every record appended before the call is fsynced (group commit)."""
        target = self.appended
        if self.synced >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_groups())
        await future

    async def _commit_groups(self) -> None:
        while self._waiters:
            target = self.appended
            self._write_group()
            try:
                await asyncio.to_thread(os.fsync, self._fd)
            except OSError as error:
                if self.synced >= target:  # `rewrite` replaced the file and synced it meanwhile
                    continue
                waiters, self._waiters = self._waiters, []
                for _, future in waiters:
                    if not future.done():
                        future.set_exception(error)
                return
            self.fsyncs += 1
            self.synced = max(self.synced, target)
            still = []
            for wanted, future in self._waiters:
                if wanted <= self.synced:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((wanted, future))
            self._waiters = still

    def _write_group(self) -> None:
        group = bytes(self._group)
        self._group.clear()
        for start in range(0, len(group), MAX_GROUP_BYTES):
            view = memoryview(group)[start:start + MAX_GROUP_BYTES]
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def rewrite(self, records: Iterable[bytes]) -> None:
        """Replace the file's content with `records`, atomically (compaction)."""
        self.sync()
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(temporary, "wb") as file:
            for body in records:
                file.write(encode_record(body))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND, 0o600)

    def size_bytes(self) -> int:
        """The file's size, the group not yet written included."""
        return os.fstat(self._fd).st_size + len(self._group)

    def close(self) -> None:
        """Write and fsync what is appended, then close (idempotent)."""
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1
