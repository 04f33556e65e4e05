"""Ledger core: signature recovery on the admission path, and block execution throughput.

`python -m benchmarks.core [--seconds N] [--smoke]` (`make bench-core`) measures, in one process
and one run, on the same distinct signed transactions (publishes signed with
`chain.wallet.sign_legacy` from four keys, so no cache or repetition skews a figure):

(a) raw coincurve recovery over pre-hashed messages
    (`PublicKey.from_signature_and_message(sig, hash, hasher=None).format(compressed=False)`);
(b) our admission path: `decode_transaction` + `SenderCache.admit` (which calls
    `recover_sender`) into a fresh cache;
(c) eth_account's `Account.recover_transaction` on the same raw bytes;
(e) the admission path on two threads: a `ThreadPoolExecutor(2)` splits the transactions in two
    halves, each thread decodes and recovers its half, the caller fills the cache; and (e'), for
    comparison, decoding on the caller and `admit_many` with the pool's `map`;
(d) block execution: the proposer's `Ledger.build_block` + `append_block` (one execution), and a
    follower's `append_block` of the same block after it admitted its transactions (validation:
    decode, cached senders, execution, commit), for blocks of 1, 100 and 500 publishes.

The machine this runs on is usually shared, so the signature paths run side by side: the
transactions are cut into chunks, and each round runs every path on the same chunk, one after
the other (in an order that rotates). Each figure is a median over rounds, and each ratio is the
median of the ratios measured within one round. Single-threaded paths are reported in CPU time
(`time.process_time`, which other processes' load does not inflate) and in wall time; the
two-thread path only in wall time, against (b)'s wall time in the same round. The table goes to
stdout and to benchmarks/results/core-<UTC date>.md and .json (smoke runs to
benchmarks/results/smoke/, or to --output-directory).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import coincurve
from eth_account import Account

from benchmarks.machine import cpu_model, results_path
from chain.builder import TransactionSigner, build_publish
from chain.crypto import Address
from chain.genesis import Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from chain.storage import MemoryBlockStore
from chain.transactions import (
    AdmittedTransaction,
    SenderCache,
    Transaction,
    admit_many,
    decode_transaction,
    recover_sender,
)

PRESET = "local4"
PUBLISHERS = ("bureau:shanghai", "bureau:nanjing", "bureau:hangzhou", "bureau:hefei")
THREADS = 2
BLOCK_INTERVAL_MS = 1_000
MAX_ROUNDS = 400  # bounds a run whatever --seconds says


@dataclass(frozen=True)
class Scale:
    """How much a run measures: full, or smoke (a few seconds, to check that it runs)."""

    transactions: int
    chunk: int
    minimum_rounds: int
    block_sizes: tuple[int, ...]
    block_repetitions: int
    default_seconds: float


FULL = Scale(transactions=2_000, chunk=250, minimum_rounds=16, block_sizes=(1, 100, 500),
             block_repetitions=3, default_seconds=30.0)
SMOKE = Scale(transactions=60, chunk=30, minimum_rounds=2, block_sizes=(1, 5, 20),
              block_repetitions=1, default_seconds=0.0)

TARGET_B_OVER_A = 0.75  # our admission keeps at least 75% of raw coincurve throughput
TARGET_B_OVER_C = 4.0  # and is at least 4x eth_account
TARGET_E_OVER_B = 1.6  # two threads on two cores
TARGET_BLOCK_TX_PER_S = 500.0  # for 500-transaction blocks

LABELS = {
    "a": "(a) coincurve recover, pre-hashed",
    "b": "(b) decode_transaction + SenderCache.admit",
    "c": "(c) eth_account Account.recover_transaction",
    "e": f"(e) (b) on {THREADS} threads, one half each",
    "e_admit_many": f"(e') caller decodes, admit_many on {THREADS} threads",
}


@dataclass(frozen=True)
class Sample:
    """One path on one chunk: microseconds per transaction."""

    wall_us: float
    cpu_us: float


@dataclass(frozen=True)
class BlockRate:
    """Block execution of `size` publishes: medians over repetitions, in milliseconds."""

    size: int
    repetitions: int
    propose_wall_ms: float
    propose_cpu_ms: float
    follow_wall_ms: float
    follow_cpu_ms: float

    def tx_per_s(self, milliseconds: float) -> float:
        """Transactions per second for a block that took `milliseconds`."""
        return self.size / (milliseconds / 1000)


def publish_transactions(genesis: Genesis, count: int, tag: str = "") -> list[bytes]:
    """`count` distinct signed publishes, round robin over four bureaus, nonces from 0."""
    preset = genesis.preset
    keys = [preset.key(label) for label in PUBLISHERS]
    enterprises = preset.enterprises
    raws = []
    for index in range(count):
        key = keys[index % len(keys)]
        enterprise = enterprises[index % len(enterprises)].credit_code
        record = CreditRecord(enterprise, RecordKind.TAX, f"2024{tag}",
                              {"paid_cny": 100_000 + index, "sequence": index})
        raws.append(build_publish(TransactionSigner(key, genesis.chain_id), index // len(keys),
                                  genesis.contracts.registry, record).raw)
    return raws


def signature_inputs(raws: Sequence[bytes], chain_id: int) -> list[tuple[bytes, bytes]]:
    """(65-byte signature, signing hash) of each transaction, for the raw coincurve path."""
    inputs = []
    for raw in raws:
        transaction = decode_transaction(raw, chain_id)
        signature = (transaction.r.to_bytes(32, "big") + transaction.s.to_bytes(32, "big")
                     + bytes((transaction.y_parity,)))
        inputs.append((signature, transaction.signing_hash))
    return inputs


def run_coincurve(inputs: Sequence[tuple[bytes, bytes]]) -> None:
    """(a) Recover each public key from a pre-hashed message."""
    recover = coincurve.PublicKey.from_signature_and_message
    for signature, message_hash in inputs:
        recover(signature, message_hash, hasher=None).format(compressed=False)


def run_admission(raws: Sequence[bytes], chain_id: int) -> SenderCache:
    """(b) Decode, recover and cache the sender of each transaction, into a fresh cache."""
    cache = SenderCache()
    for raw in raws:
        cache.admit(decode_transaction(raw, chain_id))
    return cache


def run_eth_account(raws: Sequence[bytes]) -> None:
    """(c) eth_account's recovery of each raw transaction."""
    for raw in raws:
        Account.recover_transaction(raw)


def _decode_and_recover(raws: Sequence[bytes], chain_id: int) -> list[AdmittedTransaction]:
    admitted = []
    for raw in raws:
        transaction = decode_transaction(raw, chain_id)
        admitted.append(AdmittedTransaction(transaction, recover_sender(transaction)))
    return admitted


def run_admission_threads(pool: ThreadPoolExecutor, raws: Sequence[bytes],
                          chain_id: int) -> SenderCache:
    """(e) Each of two threads decodes and recovers half the transactions; the caller caches."""
    cache = SenderCache()
    half = (len(raws) + 1) // 2
    parts = [pool.submit(_decode_and_recover, raws[:half], chain_id),
             pool.submit(_decode_and_recover, raws[half:], chain_id)]
    for part in parts:
        for admitted in part.result():
            cache.put(admitted.hash, admitted.sender)
            cache.recoveries += 1
    return cache


def run_admit_many(pool: ThreadPoolExecutor, raws: Sequence[bytes], chain_id: int) -> SenderCache:
    """(e') The caller decodes; `admit_many` recovers through the pool's map."""
    cache = SenderCache()
    decoded = [decode_transaction(raw, chain_id) for raw in raws]
    chunksize = max(1, len(decoded) // (2 * THREADS))

    def mapper(function: Callable[[Transaction], Address],
               items: Sequence[Transaction]) -> list[Address]:
        return list(pool.map(function, items, chunksize=chunksize))

    admit_many(cache, decoded, mapper)  # type: ignore[arg-type]
    return cache


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float], count: int) -> Sample:
    """Microseconds per item since `start`, wall and CPU."""
    wall, cpu = _clock()
    return Sample((wall - start[0]) / count * 1e6, (cpu - start[1]) / count * 1e6)


def measure_side_by_side(paths: dict[str, Callable[[int, int], object]], count: int,
                         chunk: int, seconds: float, minimum_rounds: int
                         ) -> dict[str, list[Sample]]:
    """Round after round, run every path on the same chunk of transactions.

    A path is called with (start, end) indexes of its chunk. The order of the paths rotates
    every round, so that none always runs first or last.
    """
    names = list(paths)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    chunks = [(start, min(start + chunk, count)) for start in range(0, count, chunk)]
    started = time.perf_counter()
    rounds = 0
    while rounds < minimum_rounds or (
            rounds < MAX_ROUNDS and time.perf_counter() - started < seconds):
        start, end = chunks[rounds % len(chunks)]
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            begin = _clock()
            paths[name](start, end)
            samples[name].append(_since(begin, end - start))
        rounds += 1
    return samples


def measure_block(genesis: Genesis, size: int, repetitions: int) -> BlockRate:
    """Medians of proposing and of following one block of `size` publishes."""
    propose: list[Sample] = []
    follow: list[Sample] = []
    for repetition in range(repetitions):
        raws = publish_transactions(genesis, size, tag=f"-{size}-{repetition}")
        proposer = Ledger(MemoryBlockStore(), genesis)
        follower = Ledger(MemoryBlockStore(), genesis)
        for raw in raws:
            proposer.admit(raw)
            follower.admit(raw)
        timestamp_ms = genesis.preset.genesis_timestamp_ms + BLOCK_INTERVAL_MS
        begin = _clock()
        block = proposer.build_block(timestamp_ms, "shanghai-1", limit=size)
        committed = proposer.append_block(block)
        propose.append(_since(begin, 1))
        begin = _clock()
        follower.append_block(block)
        follow.append(_since(begin, 1))
        if len(committed.receipts) != size or any(r.status != 1 for r in committed.receipts):
            raise RuntimeError(f"a {size}-publish block did not commit every publish")
        if follower.head != proposer.head:
            raise RuntimeError("the follower's head differs from the proposer's")
    return BlockRate(
        size=size, repetitions=repetitions,
        propose_wall_ms=statistics.median(s.wall_us for s in propose) / 1000,
        propose_cpu_ms=statistics.median(s.cpu_us for s in propose) / 1000,
        follow_wall_ms=statistics.median(s.wall_us for s in follow) / 1000,
        follow_cpu_ms=statistics.median(s.cpu_us for s in follow) / 1000,
    )


def paired_ratio(numerator: list[Sample], denominator: list[Sample], cpu: bool) -> float:
    """Median over rounds of numerator time / denominator time, measured in the same round."""
    return statistics.median(
        (n.cpu_us / d.cpu_us) if cpu else (n.wall_us / d.wall_us)
        for n, d in zip(numerator, denominator, strict=True)
        if (d.cpu_us if cpu else d.wall_us) > 0
    )


def machine() -> dict[str, object]:
    """Where the figures were measured."""
    return {
        "platform": platform.platform(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "load_average_start": list(os.getloadavg()),
    }


def _median(samples: list[Sample], cpu: bool) -> float:
    return statistics.median(s.cpu_us if cpu else s.wall_us for s in samples)


def _load(values: object) -> str:
    assert isinstance(values, list)
    return "/".join(f"{value:.2f}" for value in values)


def render(report: dict[str, object]) -> str:
    """The markdown tables of a run."""
    info = report["machine"]
    rates = report["rates"]
    ratios = report["ratios"]
    blocks = report["blocks"]
    assert isinstance(info, dict) and isinstance(rates, dict)
    assert isinstance(ratios, dict) and isinstance(blocks, list)
    lines = [
        f"# Ledger core benchmark, {report['date']}",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {info['cpu_model']}, nproc {info['nproc']}, Python {info['python']}, "
        f"{info['platform']}  ",
        f"Load average (1/5/15 min) at start {_load(info['load_average_start'])}, at end "
        f"{_load(info['load_average_end'])}: the machine is shared, so paths ran side by side "
        "and ratios are medians of same-round ratios.  ",
        f"Transactions: {report['transactions']} distinct signed publishes from "
        f"{len(PUBLISHERS)} keys, in chunks of {report['chunk']}; {report['rounds']} rounds.",
        "",
        "| path | CPU µs/tx | wall µs/tx | tx/s per core (CPU) | tx/s (wall) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rate in rates.items():
        cpu = rate["cpu_us"]
        cpu_text = f"{cpu:.1f}" if name not in ("e", "e_admit_many") else f"({cpu:.1f}, both)"
        per_core = f"{1e6 / cpu:,.0f}" if name not in ("e", "e_admit_many") else "-"
        lines.append(f"| {LABELS[name]} | {cpu_text} | {rate['wall_us']:.1f} | {per_core} | "
                     f"{1e6 / rate['wall_us']:,.0f} |")
    lines += ["", "| ratio (median of same-round ratios) | measured | target | met |",
              "|---|---:|---:|---|"]
    for name, ratio in ratios.items():
        lines.append(f"| {name} | {ratio['measured']:.2f} | {ratio['target']} | "
                     f"{'yes' if ratio['met'] else 'no'} |")
    lines += ["", "| (d) block of publishes | proposer CPU ms | proposer tx/s (CPU) | "
              "proposer wall ms | follower CPU ms | follower tx/s (CPU) | follower wall ms | "
              "repetitions |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for block in blocks:
        lines.append(
            f"| {block['size']} | {block['propose_cpu_ms']:.1f} | "
            f"{block['propose_tx_per_s_cpu']:,.0f} | {block['propose_wall_ms']:.1f} | "
            f"{block['follow_cpu_ms']:.1f} | {block['follow_tx_per_s_cpu']:,.0f} | "
            f"{block['follow_wall_ms']:.1f} | {block['repetitions']} |")
    return "\n".join(lines) + "\n"


def run(seconds: float | None, smoke: bool, output_directory: Path | None
        ) -> tuple[Path, Path]:
    """Measure everything, print the tables, write the .md and .json files."""
    scale = SMOKE if smoke else FULL
    seconds = scale.default_seconds if seconds is None else seconds
    info = machine()
    genesis = build_genesis(get_preset(PRESET))
    chain_id = genesis.chain_id
    raws = publish_transactions(genesis, scale.transactions)
    inputs = signature_inputs(raws, chain_id)
    senders = {genesis.preset.key(label).address for label in PUBLISHERS}
    if {bytes.fromhex(Account.recover_transaction(raw)[2:]) for raw in raws[:8]} != senders:
        raise RuntimeError("eth_account recovers other senders than the signing keys")

    with ThreadPoolExecutor(THREADS) as pool:
        for check in (run_admission(raws, chain_id), run_admit_many(pool, raws, chain_id),
                      run_admission_threads(pool, raws, chain_id)):
            if len(check) != scale.transactions:
                raise RuntimeError("an admission path lost transactions")
        samples = measure_side_by_side({
            "a": lambda start, end: run_coincurve(inputs[start:end]),
            "b": lambda start, end: run_admission(raws[start:end], chain_id),
            "c": lambda start, end: run_eth_account(raws[start:end]),
            "e": lambda start, end: run_admission_threads(pool, raws[start:end], chain_id),
            "e_admit_many": lambda start, end: run_admit_many(pool, raws[start:end], chain_id),
        }, scale.transactions, scale.chunk, seconds, scale.minimum_rounds)
    blocks = [measure_block(genesis, size, scale.block_repetitions)
              for size in scale.block_sizes]
    info["load_average_end"] = list(os.getloadavg())

    ratios: dict[str, dict[str, object]] = {}

    def ratio(name: str, measured: float, target: float) -> None:
        ratios[name] = {"measured": measured, "target": f">= {target:g}",
                        "met": measured >= target}

    ratio("(b)/(a) throughput, CPU time", paired_ratio(samples["a"], samples["b"], cpu=True),
          TARGET_B_OVER_A)
    ratio("(b)/(a) throughput, wall time", paired_ratio(samples["a"], samples["b"], cpu=False),
          TARGET_B_OVER_A)
    ratio("(b)/(c) throughput, CPU time", paired_ratio(samples["c"], samples["b"], cpu=True),
          TARGET_B_OVER_C)
    ratio("(e)/(b) throughput, wall time", paired_ratio(samples["b"], samples["e"], cpu=False),
          TARGET_E_OVER_B)
    ratio("(e')/(b) throughput, wall time",
          paired_ratio(samples["b"], samples["e_admit_many"], cpu=False), TARGET_E_OVER_B)
    largest = blocks[-1]
    ratio(f"(d) proposer tx/s (CPU), {largest.size}-tx block",
          largest.tx_per_s(largest.propose_cpu_ms), TARGET_BLOCK_TX_PER_S)
    ratio(f"(d) follower tx/s (CPU), {largest.size}-tx block",
          largest.tx_per_s(largest.follow_cpu_ms), TARGET_BLOCK_TX_PER_S)

    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    command = "python -m benchmarks.core" + (" --smoke" if smoke else "") + (
        f" --seconds {seconds:g}")
    report: dict[str, object] = {
        "benchmark": "core", "date": date, "command": command, "smoke": smoke,
        "transactions": scale.transactions, "chunk": scale.chunk,
        "rounds": len(samples["a"]), "machine": info,
        "rates": {name: {"cpu_us": _median(values, cpu=True),
                         "wall_us": _median(values, cpu=False), "rounds": len(values)}
                  for name, values in samples.items()},
        "ratios": ratios,
        "blocks": [{
            "size": block.size, "repetitions": block.repetitions,
            "propose_cpu_ms": block.propose_cpu_ms, "propose_wall_ms": block.propose_wall_ms,
            "follow_cpu_ms": block.follow_cpu_ms, "follow_wall_ms": block.follow_wall_ms,
            "propose_tx_per_s_cpu": block.tx_per_s(block.propose_cpu_ms),
            "follow_tx_per_s_cpu": block.tx_per_s(block.follow_cpu_ms),
            "propose_tx_per_s_wall": block.tx_per_s(block.propose_wall_ms),
            "follow_tx_per_s_wall": block.tx_per_s(block.follow_wall_ms),
        } for block in blocks],
    }
    table = render(report)
    print(table)
    if output_directory is None:
        markdown_path, json_path = results_path("core", smoke)
    else:
        output_directory.mkdir(parents=True, exist_ok=True)
        stem = f"core-{date}" + ("-smoke" if smoke else "")
        markdown_path = output_directory / f"{stem}.md"
        json_path = output_directory / f"{stem}.json"
    markdown_path.write_text(table, encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {markdown_path} and {json_path}", file=sys.stderr)
    return markdown_path, json_path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None,
                        help="minimum time for the side-by-side signature rounds "
                             f"(default {FULL.default_seconds:g}; smoke runs "
                             f"{SMOKE.minimum_rounds} rounds)")
    parser.add_argument("--smoke", action="store_true",
                        help="small counts: a few seconds, to check that the benchmark runs")
    parser.add_argument("--output-directory", type=Path, default=None,
                        help="write the .md and .json here instead of benchmarks/results/")
    arguments = parser.parse_args(argv)
    run(arguments.seconds, arguments.smoke, arguments.output_directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
