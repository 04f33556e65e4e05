"""Where a node's LMDB store spends its bytes: one line per named database, and free pages.

    python -m benchmarks.store_breakdown DIR [DIR …] [--records N] [--json]

DIR is a data directory of a network (every `*/chain` and `*/records` store under it is read),
a node's directory, or one store directory (holding `data.mdb`). For each store it prints, per
named database, its entries and its bytes — the page size times its branch, leaf and overflow
pages (LMDB's own `stat`) — then the pages no database holds (LMDB's free list: pages freed by
copy-on-write that later writes reuse), the file's allocated size, and with `--records N` every
figure per record. The store is opened read-only, so a stopped node's directory is read as it
is (a running node's too: LMDB readers do not block its writer).

The databases whose keys start with a one-byte namespace (`tables`: one prefix a table,
`chain.engine.tables`; `index`: one a kind of entry, `chain.indexer`) are split further, one
line a prefix: its entries, the bytes of their leaf nodes (key, value, LMDB's 8-byte node header
and 2-byte pointer, rounded to even as LMDB stores them), and the database's pages shared out
in proportion to those bytes (branch pages and the leaves' unused ends included).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import lmdb

from nodes.storage.compaction import STORE_FILE_NAME, stores_under

MAX_DATABASES = 16
META_PAGES = 2  # LMDB's two meta pages at the start of every file
NODE_HEADER_BYTES = 8  # LMDB's leaf node header (data size, flags, key size)
NODE_POINTER_BYTES = 2  # the node's offset in its page's pointer array
SPLIT_DATABASES = ("tables", "index")  # keys start with a one-byte namespace


@dataclass(frozen=True, slots=True)
class DatabaseSize:
    """One named database of a store (or the main database, named '')."""

    name: str
    entries: int
    pages: int
    bytes: int


@dataclass(frozen=True, slots=True)
class PrefixSize:
    """The entries of one key prefix (a table, a kind of index entry) within a database."""

    database: str
    prefix: str
    entries: int
    node_bytes: int
    """Their leaf nodes' bytes: keys, values, node headers and pointers."""
    bytes: int
    """The database's pages in proportion to `node_bytes`."""


@dataclass(frozen=True, slots=True)
class StoreBreakdown:
    """A store's databases, its free pages and its file's allocated size."""

    path: str
    page_size: int
    databases: tuple[DatabaseSize, ...]
    free_pages: int
    used_pages: int
    file_bytes: int
    prefixes: tuple[PrefixSize, ...] = ()

    @property
    def free_bytes(self) -> int:
        """Bytes of pages no database holds (including the free list's own pages)."""
        return self.free_pages * self.page_size


def _size(name: str, stat: dict[str, int]) -> DatabaseSize:
    pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
    return DatabaseSize(name, stat["entries"], pages, pages * stat["psize"])


def _node_bytes(key: bytes, value: bytes) -> int:
    size = NODE_HEADER_BYTES + len(key) + len(value)
    return size + (size & 1) + NODE_POINTER_BYTES


def _split(transaction: lmdb.Transaction, database: lmdb._Database,
           size: DatabaseSize) -> list[PrefixSize]:
    """Entries and node bytes per first key byte, the database's pages shared out by them."""
    counts: dict[bytes, list[int]] = {}
    for key, value in transaction.cursor(db=database).iternext():
        found = counts.setdefault(bytes(key[:1]), [0, 0])
        found[0] += 1
        found[1] += _node_bytes(key, value)
    total = max(sum(nodes for _, nodes in counts.values()), 1)
    return [PrefixSize(size.name, prefix.decode("latin-1"), entries, nodes,
                       round(size.bytes * nodes / total))
            for prefix, (entries, nodes) in sorted(counts.items(), key=lambda item: -item[1][1])]


def read_store(path: Path) -> StoreBreakdown:
    """The breakdown of the store in directory `path` (opened read-only)."""
    environment = lmdb.open(str(path), readonly=True, lock=False, subdir=True,
                            max_dbs=MAX_DATABASES, create=False)
    try:
        sizes = [_size("(main)", environment.stat())]
        prefixes: list[PrefixSize] = []
        with environment.begin() as transaction:
            names = [key for key, _ in transaction.cursor()]
        for name in names:
            try:
                database = environment.open_db(name, create=False)
            except lmdb.Error:
                continue  # a plain key of the main database, not a named database
            with environment.begin() as transaction:
                size = _size(name.decode("utf-8", "replace"), transaction.stat(database))
                sizes.append(size)
                if size.name in SPLIT_DATABASES:
                    prefixes.extend(_split(transaction, database, size))
        info = environment.info()
        page_size = environment.stat()["psize"]
    finally:
        environment.close()
    used = sum(size.pages for size in sizes) + META_PAGES
    last_page = info["last_pgno"] + 1
    file_path = path / STORE_FILE_NAME
    return StoreBreakdown(
        path=str(path), page_size=page_size,
        databases=tuple(sorted(sizes, key=lambda size: -size.bytes)),
        free_pages=max(last_page - used, 0), used_pages=used,
        file_bytes=file_path.stat().st_blocks * 512, prefixes=tuple(prefixes),
    )


def _per(value: int, records: int | None) -> str:
    return f"{value / records:10.1f}" if records else ""


def render(breakdown: StoreBreakdown, records: int | None) -> str:
    """A store's table: database, entries, bytes, share of the file, bytes per record."""
    total = max(breakdown.file_bytes, 1)
    header = f"{'database':<12}{'entries':>12}{'bytes':>14}{'share':>8}"
    header += f"{'B/record':>10}" if records else ""
    lines = [f"{breakdown.path} (page {breakdown.page_size} B)", header]
    for size in breakdown.databases:
        lines.append(f"{size.name:<12}{size.entries:>12,}{size.bytes:>14,}"
                     f"{100 * size.bytes / total:>7.1f}%{_per(size.bytes, records)}")
        for part in breakdown.prefixes:
            if part.database == size.name:
                lines.append(f"{'  ' + repr(part.prefix):<12}{part.entries:>12,}"
                             f"{part.bytes:>14,}{100 * part.bytes / total:>7.1f}%"
                             f"{_per(part.bytes, records)}")
    lines.append(f"{'(free)':<12}{'':>12}{breakdown.free_bytes:>14,}"
                 f"{100 * breakdown.free_bytes / total:>7.1f}%"
                 f"{_per(breakdown.free_bytes, records)}")
    lines.append(f"{'file':<12}{'':>12}{breakdown.file_bytes:>14,}{'':>8}"
                 f"{_per(breakdown.file_bytes, records)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the breakdown of every store under the given directories."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_breakdown",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--records", type=int, default=None,
                        help="records the stores hold: print bytes per record too")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    arguments = parser.parse_args(argv)
    stores = [store for directory in arguments.directories for store in stores_under(directory)]
    if not stores:
        print("no LMDB store (data.mdb) under " + " ".join(map(str, arguments.directories)),
              file=sys.stderr)
        return 2
    breakdowns = [read_store(store) for store in stores]
    if arguments.json:
        print(json.dumps([{
            "path": item.path, "page_size": item.page_size, "file_bytes": item.file_bytes,
            "free_bytes": item.free_bytes,
            "databases": {size.name: {"entries": size.entries, "bytes": size.bytes}
                          for size in item.databases},
            "prefixes": {f"{part.database}/{part.prefix}": {
                "entries": part.entries, "node_bytes": part.node_bytes, "bytes": part.bytes}
                for part in item.prefixes},
        } for item in breakdowns], indent=2))
    else:
        print("\n\n".join(render(item, arguments.records) for item in breakdowns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
