"""`yrdchain compact DIR…`: compact the LMDB stores of stopped nodes (after an import).

    yrdchain compact /path/to/network            # every node's chain and records stores
    yrdchain compact /path/to/network/shanghai-1 # one node

Each store under DIR (a directory holding `data.mdb`) gets a compacting copy renamed over it
(`nodes.storage.compaction`): the free pages a bulk import leaves behind go back to the file
system. A store whose node is running is refused (its directory lock is held) and left as is.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nodes.storage.blocks import DataDirectoryLocked
from nodes.storage.compaction import Compaction, compact_store, stores_under


def compact_stores(directory: Path) -> list[Compaction]:
    """Compact every store under a stopped node's (or network's) directory."""
    return [compact_store(store) for store in stores_under(directory)]


def run_compact(arguments: argparse.Namespace) -> int:
    """Entry point of `yrdchain compact`: 0 when every store was compacted, 1 otherwise."""
    status = 0
    stores = [store for directory in arguments.directories
              for store in stores_under(Path(directory))]
    if not stores:
        print(f"no LMDB store (data.mdb) under {' '.join(arguments.directories)}")
        return 1
    for store in stores:
        try:
            done = compact_store(store)
        except DataDirectoryLocked as error:
            print(f"  {store}: skipped, {error}")
            status = 1
            continue
        print(f"  {store}: {done.bytes_before:,} -> {done.bytes_after:,} bytes")
    return status


def register(commands: Any) -> None:
    """Add `compact` to the `yrdchain` parser."""
    compact = commands.add_parser(
        "compact", help="compact stopped nodes' stores (give back an import's free pages)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compact.add_argument("directories", nargs="+", metavar="DIR",
                         help="a network's, a node's or a store's directory")
    compact.set_defaults(run=run_compact)
