"""The record read path on a node's store: what a report's cache miss and an old receipt cost.

    python -m benchmarks.record_reads DATA_DIR/NODE [--preset local4] [--rounds 3]

Opens the node's block store read-only (as a read worker does) under a ledger of the preset's
genesis, then times, round after round: `records_of` for every enterprise with records (the
report path on a cache miss), `record` for each of their versions, and `receipts` of every
stored block past the ledger's in-memory window (old receipts decompress their block first).
Prints CPU microseconds per item (`time.process_time`, so a shared machine's other work does not
count), the median over rounds. Run it against stores written before and
after a layout change to compare (ADR 0024).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from chain.engine.tables import ENTERPRISE_INDEX, FIRST_CHUNK_KEY_END, long_word
from chain.genesis import build_genesis
from chain.ledger import Ledger
from chain.presets import PRESETS, get_preset
from contracts import bindings
from nodes.storage.blocks import LmdbBlockStore


def _per_item(seconds: float, items: int) -> float:
    return 1e6 * seconds / max(items, 1)


def main(argv: list[str] | None = None) -> int:
    """Print the medians of the timed reads."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.record_reads",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("node_directory", type=Path)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="local4")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    genesis = build_genesis(get_preset(arguments.preset))
    store = LmdbBlockStore(arguments.node_directory / "chain", read_only=True)
    ledger = Ledger(store, genesis)
    enterprises = [bindings.decode_enterprise_id(long_word(key[1:-len(FIRST_CHUNK_KEY_END)]))
                   for key, _ in store.scan_rows(ENTERPRISE_INDEX, 1 << 30)
                   if key.endswith(FIRST_CHUNK_KEY_END)]  # chunk 0: one per enterprise
    heights = range(1, ledger.head.height + 1)
    figures: dict[str, list[float]] = {"records_of": [], "record": [], "receipts": []}
    counts = {"records_of": len(enterprises), "record": 0, "receipts": len(heights)}
    for _ in range(arguments.rounds):
        started = time.process_time()
        versions = [entry.record_id for enterprise in enterprises
                    for entry in ledger.records_of(enterprise)]
        figures["records_of"].append(_per_item(time.process_time() - started, len(enterprises)))
        counts["record"] = len(versions)
        started = time.process_time()
        for record_id in versions:
            ledger.record(record_id)
        figures["record"].append(_per_item(time.process_time() - started, len(versions)))
        started = time.process_time()
        for height in heights:
            store.load_receipts(height)
        figures["receipts"].append(_per_item(time.process_time() - started, len(heights)))
    store.close()
    print(f"{arguments.node_directory}: {len(enterprises):,} enterprises, "
          f"{counts['record']:,} versions, {len(heights):,} blocks")
    for name, values in figures.items():
        print(f"  {name:<11} {statistics.median(values):10.1f} CPU µs per item "
              f"({counts[name]:,} items, median of {len(values)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
