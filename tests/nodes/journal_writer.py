"""A journal writer to be killed: appends records in concurrent groups and prints each ack.

Usage: python journal_writer.py PATH

Prints `started PID`, then `acked N` for each record N whose `durable()` returned (each line
flushed at once), until killed. Records are `record-N` for N = 1, 2, ...; 8 appenders run at
once so records are acknowledged in groups.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from nodes.storage.journal import Journal

APPENDERS = 8


async def main(path: Path) -> None:
    journal = Journal(path)
    start = len(journal.replay())
    counter = [start]
    print(f"started {os.getpid()}", flush=True)

    async def appender() -> None:
        while True:
            counter[0] += 1
            number = counter[0]
            journal.append(f"record-{number}".encode())
            await journal.durable()
            print(f"acked {number}", flush=True)

    await asyncio.gather(*(appender() for _ in range(APPENDERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
