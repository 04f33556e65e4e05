"""A block writer to be killed: resumes a ledger on an LMDB store and appends blocks.

Usage:

    python crash_writer.py DATA_DIR [MAX_HEIGHT]    one writer, until MAX_HEIGHT or killed
    python crash_writer.py --fork-server            writers on demand, one process each

The chain is deterministic (preset `local4`; block `h` holds one publish from each city's credit
bureau, derived from `h`), so every writer writes the same chain whatever height it resumes at.
A writer prints, each line in one `write(2)` (`say`), so that a SIGKILL leaves a whole line or
none — `print` under `PYTHONUNBUFFERED=1` writes the text and its newline separately, and a kill
between the two glued the server's next line onto the cut one:

    started PID         the writer process runs (its process id, to kill it)
    opened              the store is open (the ledger is not resumed yet)
    resumed H           the ledger resumed at head H (genesis is committed on an empty store)
    committed H         block H is committed: save_commit returned, the block is durable

The server reads commands `DATA_DIR MAX_HEIGHT` on stdin, starts a fresh writer process for each
(its lines go straight to the server's stdout), waits for it to end, killed or not, and prints
`exited PID CODE` (-9 after SIGKILL).

The tests import `next_block` and `PRESET_NAME` from here, to build the same chain in process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chain.blocks import Block
from chain.builder import TransactionSigner, build_publish
from chain.genesis import Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import Preset, get_preset
from chain.records import CreditRecord, RecordKind
from nodes.storage.blocks import LmdbBlockStore

PRESET_NAME = "local4"
BLOCK_INTERVAL_MS = 1_000  # block h is stamped genesis time + h seconds
DEFAULT_MAX_HEIGHT = 5_000  # a writer nobody kills stops here rather than run forever
PROPOSER = "shanghai-1"


def say(line: str) -> None:
    """Write one line to stdout in a single write: atomic on a pipe (under PIPE_BUF bytes)."""
    os.write(sys.stdout.fileno(), f"{line}\n".encode())


def publish_transactions(ledger: Ledger, preset: Preset, height: int) -> list[bytes]:
    """The signed publish transactions of block `height`: one per city bureau."""
    transactions = []
    for position, city in enumerate(preset.cities):
        bureau = preset.key(f"bureau:{city.value}")
        enterprise = preset.enterprise(f"enterprise:{city.value}:{1 + height % 3}").credit_code
        record = CreditRecord(enterprise, RecordKind.TAX, str(2000 + height % 25),
                              {"height": height, "position": position, "paid_cny": 1000 * height})
        transactions.append(build_publish(TransactionSigner(bureau, preset.chain_id),
                                          ledger.next_nonce(bureau.address),
                                          ledger.genesis.contracts.registry, record).raw)
    return transactions


def next_block(ledger: Ledger) -> Block:
    """Admit block head+1's transactions and build it (not yet appended)."""
    preset = ledger.genesis.preset
    height = ledger.head.height + 1
    for raw in publish_transactions(ledger, preset, height):
        ledger.admit(raw)
    return ledger.build_block(preset.genesis_timestamp_ms + height * BLOCK_INTERVAL_MS, PROPOSER)


def write_chain(genesis: Genesis, data_directory: Path, max_height: int) -> None:
    """Open the store, resume the ledger and append blocks until `max_height`."""
    say(f"started {os.getpid()}")
    with LmdbBlockStore(data_directory) as store:
        say("opened")
        ledger = Ledger(store, genesis)
        say(f"resumed {ledger.head.height}")
        while ledger.head.height < max_height:
            ledger.append_block(next_block(ledger))
            say(f"committed {ledger.head.height}")


def serve_forks(genesis: Genesis) -> None:
    """Start a writer process for each command line on stdin; report how each ended.

    Each writer is a fresh interpreter (`python crash_writer.py DATA MAX`) writing straight to
    this server's stdout, not a `fork()` of this process: a forked child can inherit a lock
    another thread held at the fork and hang before it prints a word.
    """
    del genesis  # each writer builds its own
    say("ready")
    for command in sys.stdin:
        directory, max_height = command.split()
        writer = subprocess.Popen([sys.executable, __file__, directory, max_height],
                                  stdout=sys.stdout, stderr=sys.stderr)
        status = writer.wait()
        say(f"exited {writer.pid} {status}")


def main(arguments: list[str]) -> int:
    """One writer, or the fork server."""
    genesis = build_genesis(get_preset(PRESET_NAME))
    if arguments == ["--fork-server"]:
        serve_forks(genesis)
        return 0
    max_height = int(arguments[1]) if len(arguments) > 1 else DEFAULT_MAX_HEIGHT
    write_chain(genesis, Path(arguments[0]), max_height)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
