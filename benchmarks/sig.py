"""The signature hot path: transactions, signed queries and consensus votes, side by side.

`python -m benchmarks.sig [--seconds N] [--smoke]` (`make bench-sig`) measures, in one process
and one run, round after round on the same chunk of distinct inputs (`benchmarks.core`'s
side-by-side method: rotating order, medians over rounds, ratios within a round):

Transactions (the distinct signed publishes of `benchmarks.core.publish_transactions`):
- `tx_coincurve`: raw coincurve recovery over pre-computed signing hashes;
- `tx_admission`: our admission path, `decode_transaction` + `SenderCache.admit`;
- `tx_eth_account`: `eth_account.Account.recover_transaction`;
- `tx_admission_2t`: the admission path on two threads, one half each.

Signed queries (EIP-191 report queries signed with `nodes.query.request_signing.sign_request`):
- `query_verifier`: the node's `RequestVerifier.verify` (parse headers, window, one recovery,
  replay guard), into a fresh verifier each round;
- `query_coincurve`: coincurve recovery over the pre-computed personal-message hashes;
- `query_eth_account`: `Account.recover_message(encode_defunct(text), signature=...)`;
- `query_verifier_2t`: `RequestVerifier.verify` on two threads (one verifier each).

Consensus votes (PREPARE messages of the local4 validators, signed with
`chain.consensus.signing.Signer`):
- `vote_nacl`: `chain.consensus.signing.verify_message` (codec + PyNaCl), what the node runs;
- `vote_nacl_raw`: PyNaCl `VerifyKey.verify` over pre-encoded payloads;
- `vote_cryptography`: cryptography's `Ed25519PublicKey.verify` over the same payloads;
- `vote_nacl_2t` and `vote_cryptography_2t`: the raw verifications on two threads.

Then a short live run: a copy of the smoke data set on a local4 network, Locust's mixed profile
(signed queries and publishes) for a few seconds, and the nodes' `/metrics`: how often the
sender cache and the consent cache answered. The table goes to stdout and to
`benchmarks/results/sig-<date>.md` and `.json`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import coincurve
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.signing import VerifyKey

from benchmarks import core
from benchmarks.dataset import CACHE_DIRECTORY, SIZES, ensure_snapshot
from benchmarks.machine import describe_machine, results_path
from benchmarks.query import Phase, cache_rates, live_network, run_phase, scrape_metrics
from benchmarks.query import write_run_description as describe_run
from chain.consensus.codec import encode_signing_payload
from chain.consensus.messages import Prepare
from chain.consensus.signing import Signer, verify_message
from chain.consensus.validators import Validator, ValidatorSet
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.query.replay import RequestVerifier
from chain.query.signing import (
    canonical_request,
    parse_request_signature,
    personal_message_hash,
    sign_request,
)
from chain.transactions import SenderCache, decode_transaction
from nodes.cluster.certificates import consensus_chain_id

PRESET = "local4"
THREADS = 2
FULL_COUNT = 2_000
SMOKE_COUNT = 60
FULL_CHUNK = 250
SMOKE_CHUNK = 30
LIVE_SECONDS = 15.0
SMOKE_LIVE_SECONDS = 3.0
LIVE_USERS = 8
TARGET_ADMISSION_OVER_COINCURVE = 0.75

LABELS = {
    "tx_coincurve": "transaction: coincurve recover, pre-hashed",
    "tx_admission": "transaction: decode_transaction + SenderCache.admit",
    "tx_eth_account": "transaction: eth_account Account.recover_transaction",
    "tx_admission_2t": f"transaction: admission on {THREADS} threads",
    "query_verifier": "query: RequestVerifier.verify (EIP-191)",
    "query_coincurve": "query: coincurve recover, pre-hashed",
    "query_eth_account": "query: eth_account recover_message",
    "query_verifier_2t": f"query: RequestVerifier.verify on {THREADS} threads",
    "vote_nacl": "vote: verify_message (codec + PyNaCl)",
    "vote_nacl_raw": "vote: PyNaCl VerifyKey.verify",
    "vote_cryptography": "vote: cryptography Ed25519PublicKey.verify",
    "vote_nacl_2t": f"vote: PyNaCl on {THREADS} threads",
    "vote_cryptography_2t": f"vote: cryptography on {THREADS} threads",
}
THREADED = {"tx_admission_2t", "query_verifier_2t", "vote_nacl_2t", "vote_cryptography_2t"}


def signed_queries(count: int) -> tuple[str, int, list[tuple[str, dict[str, str]]]]:
    """(node id, signing time, [(path, headers)]): distinct signed report queries."""
    preset = get_preset(PRESET)
    node_id = preset.nodes[0].node_id
    banks = [preset.key(f"bank:{city.value}") for city in preset.cities]
    now_ms = int(time.time() * 1000)
    queries = []
    for index in range(count):
        enterprise = preset.enterprises[index % len(preset.enterprises)].credit_code.code
        path = f"/v1/enterprises/{enterprise}/report"
        queries.append((path, sign_request(banks[index % len(banks)], preset.chain_id,
                                           node_id, "GET", path, now_ms, f"bench{index:08d}")))
    return node_id, now_ms, queries


def signed_votes(count: int) -> tuple[ValidatorSet, list[Prepare]]:
    """The local4 validator set and `count` distinct signed PREPAREs."""
    preset = get_preset(PRESET)
    chain_id = consensus_chain_id(preset)
    validators = ValidatorSet(tuple(
        Validator(node.node_id, node.city.value, preset.node_public_key(node.node_id))
        for node in preset.nodes), chain_id)
    signers = [Signer(node.node_id, preset.node_seed(node.node_id), chain_id)
               for node in preset.nodes]
    votes = []
    for index in range(count):
        block_hash = index.to_bytes(32, "big")
        votes.append(signers[index % len(signers)].sign(
            Prepare(height=index // len(signers) + 1, round=0, block_hash=block_hash,
                    sender="")))
    return validators, votes


def build_paths(count: int, pool: ThreadPoolExecutor) -> dict[str, Callable[[int, int], object]]:
    """Every measured path, each called with (start, end) of its chunk."""
    genesis = build_genesis(get_preset(PRESET))
    chain_id = genesis.chain_id
    raws = core.publish_transactions(genesis, count)
    tx_inputs = core.signature_inputs(raws, chain_id)

    node_id, signed_at_ms, queries = signed_queries(count)
    query_inputs = []
    query_messages = []
    for path, headers in queries:
        signed = parse_request_signature(headers["x-yrd-timestamp"], headers["x-yrd-nonce"],
                                         headers["x-yrd-signature"])
        text = canonical_request(chain_id, node_id, "GET", path, signed.timestamp_ms,
                                 signed.nonce)
        signature = bytes.fromhex(headers["x-yrd-signature"][2:])
        query_inputs.append((signature[:64] + bytes((signature[64] - 27,)),
                             personal_message_hash(text.encode("utf-8"))))
        query_messages.append((encode_defunct(text=text), signature))

    validators, votes = signed_votes(count)
    payloads = [encode_signing_payload(vote, validators.chain_id) for vote in votes]
    nacl_keys = {v.node_id: VerifyKey(v.public_key) for v in validators.validators}
    crypto_keys = {v.node_id: Ed25519PublicKey.from_public_bytes(v.public_key)
                   for v in validators.validators}
    vote_inputs = [(vote.sender, payload, vote.signature) for vote, payload in
                   zip(votes, payloads, strict=True)]

    def verify_queries(items: Sequence[tuple[str, dict[str, str]]]) -> None:
        verifier = RequestVerifier(chain_id, node_id)
        for path, headers in items:  # checked at signing time: the window never expires here
            verifier.verify("GET", path, headers, signed_at_ms)

    def nacl_raw(items: Sequence[tuple[str, bytes, bytes]]) -> None:
        for sender, payload, signature in items:
            nacl_keys[sender].verify(payload, signature)

    def crypto_raw(items: Sequence[tuple[str, bytes, bytes]]) -> None:
        for sender, payload, signature in items:
            crypto_keys[sender].verify(signature, payload)

    def halves(function: Callable[[Any], object], items: Sequence[Any]) -> None:
        middle = (len(items) + 1) // 2
        for part in [pool.submit(function, items[:middle]), pool.submit(function, items[middle:])]:
            part.result()

    def admission(items: Sequence[bytes]) -> None:
        cache = SenderCache()
        for raw in items:
            cache.admit(decode_transaction(raw, chain_id))

    def recover_all(items: Sequence[tuple[bytes, bytes]]) -> None:
        recover = coincurve.PublicKey.from_signature_and_message
        for signature, message_hash in items:
            recover(signature, message_hash, hasher=None).format(compressed=False)

    def vote_messages(items: Sequence[Prepare]) -> None:
        for vote in items:
            if not verify_message(vote, validators):
                raise RuntimeError("a vote did not verify")

    return {
        "tx_coincurve": lambda a, b: core.run_coincurve(tx_inputs[a:b]),
        "tx_admission": lambda a, b: admission(raws[a:b]),
        "tx_eth_account": lambda a, b: core.run_eth_account(raws[a:b]),
        "tx_admission_2t": lambda a, b: halves(admission, raws[a:b]),
        "query_verifier": lambda a, b: verify_queries(queries[a:b]),
        "query_coincurve": lambda a, b: recover_all(query_inputs[a:b]),
        "query_eth_account": lambda a, b: [Account.recover_message(m, signature=s)
                                           for m, s in query_messages[a:b]],
        "query_verifier_2t": lambda a, b: halves(verify_queries, queries[a:b]),
        "vote_nacl": lambda a, b: vote_messages(votes[a:b]),
        "vote_nacl_raw": lambda a, b: nacl_raw(vote_inputs[a:b]),
        "vote_cryptography": lambda a, b: crypto_raw(vote_inputs[a:b]),
        "vote_nacl_2t": lambda a, b: halves(nacl_raw, vote_inputs[a:b]),
        "vote_cryptography_2t": lambda a, b: halves(crypto_raw, vote_inputs[a:b]),
    }


def live_cache_rates(seconds: float, cache: Path) -> dict[str, Any]:
    """Cache hit rates from a short mixed Locust run on a local4 network with the smoke data."""
    snapshot = ensure_snapshot(PRESET, SIZES["smoke"], 1, cache, progress=False)
    cities = len(get_preset(PRESET).cities)
    with tempfile.TemporaryDirectory(prefix="yrd-bench-sig-") as directory, \
            live_network(snapshot) as members:
        output = Path(directory)
        run_file = output / "run.json"
        describe_run(run_file, SIZES["smoke"], 1, members)
        phase = Phase("live", ("QueryUser", "PublisherUser"), seconds, LIVE_USERS + cities,
                      rate_per_user=0.0, publishers=cities)
        result = run_phase(phase, run_file, output, members, workers=0)
        totals = scrape_metrics(members)
    return {"seconds": seconds, "requests": result.requests, "failures": result.failures,
            "requests_per_s": result.requests_per_s, "metrics": totals,
            **cache_rates(totals)}


def render(report: dict[str, Any]) -> str:
    """The markdown tables of a run."""
    rates = report["rates"]
    lines = [f"# Signature hot path, {report['date']}", "", report["machine"], "",
             f"Command: `{report['command']}`; load average at start "
             f"{report['load_average_start']}, at end {report['load_average_end']} "
             "(the machine is shared: compare ratios, which are medians of same-round "
             f"ratios). {report['count']} distinct inputs per kind, chunks of "
             f"{report['chunk']}, {report['rounds']} rounds.", "",
             "| path | CPU µs/op | wall µs/op | ops/s per core (CPU) | ops/s (wall) |",
             "|---|---:|---:|---:|---:|"]
    for name, rate in rates.items():
        threaded = name in THREADED
        cpu = f"({rate['cpu_us']:.1f}, both)" if threaded else f"{rate['cpu_us']:.1f}"
        per_core = "-" if threaded else f"{1e6 / rate['cpu_us']:,.0f}"
        lines.append(f"| {LABELS[name]} | {cpu} | {rate['wall_us']:.1f} | {per_core} | "
                     f"{1e6 / rate['wall_us']:,.0f} |")
    lines += ["", "| ratio (median of same-round ratios) | CPU | wall | target |",
              "|---|---:|---:|---|"]
    for name, ratio in report["ratios"].items():
        lines.append(f"| {name} | {ratio['cpu']} | {ratio['wall']} | {ratio['target']} |")
    live = report.get("live")
    if live:
        metrics = live["metrics"]
        lines += ["", f"Live run ({live['seconds']:g} s of Locust's mixed profile on local4 with "
                  f"the smoke data set: {live['requests']:,} requests, {live['failures']} "
                  f"failures, {live['requests_per_s']} req/s):", "",
                  "| cache | hits | misses | hit rate |", "|---|---:|---:|---:|",
                  f"| transaction sender cache (each signature recovered once per node) | "
                  f"{metrics['yrd_transaction_signature_cache_hits_total']:,.0f} | "
                  f"{metrics['yrd_transaction_signature_recoveries_total']:,.0f} | "
                  f"{live['sender_cache_hit_rate']:.1%} |",
                  f"| consent cache (grants and enterprise keys) | "
                  f"{metrics['yrd_consent_cache_hits_total']:,.0f} | "
                  f"{metrics['yrd_consent_contract_calls_total']:,.0f} | "
                  f"{live['consent_cache_hit_rate']:.1%} |",
                  "", f"Query signatures recovered: "
                  f"{metrics['yrd_query_signature_verifications_total']:,.0f} (one per signed "
                  "request: request signatures are never cached, each carries a fresh nonce)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sig", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="minimum time of the side-by-side rounds")
    parser.add_argument("--live-seconds", type=float, default=LIVE_SECONDS)
    parser.add_argument("--no-live", action="store_true", help="skip the live cache run")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--cache", type=Path, default=CACHE_DIRECTORY)
    arguments = parser.parse_args(argv)
    count, chunk = (SMOKE_COUNT, SMOKE_CHUNK) if arguments.smoke else (FULL_COUNT, FULL_CHUNK)
    seconds = 0.0 if arguments.smoke else arguments.seconds
    load_start = [round(value, 2) for value in os.getloadavg()]
    with ThreadPoolExecutor(THREADS) as pool:
        paths = build_paths(count, pool)
        samples = core.measure_side_by_side(paths, count, chunk, seconds,
                                            2 if arguments.smoke else 16)

    def ratio(faster: str, slower: str, target: str = "") -> dict[str, Any]:
        # throughput of `faster` over throughput of `slower` = time(slower) / time(faster)
        return {"cpu": round(core.paired_ratio(samples[slower], samples[faster], cpu=True), 2)
                if faster not in THREADED and slower not in THREADED else "-",
                "wall": round(core.paired_ratio(samples[slower], samples[faster], cpu=False),
                              2), "target": target}

    ratios = {
        "admission / coincurve (throughput)": ratio("tx_admission", "tx_coincurve",
                                                    f">= {TARGET_ADMISSION_OVER_COINCURVE}"),
        "admission / eth_account": ratio("tx_admission", "tx_eth_account"),
        "admission 2 threads / 1 thread": ratio("tx_admission_2t", "tx_admission"),
        "query verifier / coincurve": ratio("query_verifier", "query_coincurve"),
        "query verifier / eth_account": ratio("query_verifier", "query_eth_account"),
        "query verifier 2 threads / 1 thread": ratio("query_verifier_2t", "query_verifier"),
        "vote: cryptography / PyNaCl": ratio("vote_cryptography", "vote_nacl_raw"),
        "vote: verify_message / raw PyNaCl": ratio("vote_nacl", "vote_nacl_raw"),
        "vote: PyNaCl 2 threads / 1 thread": ratio("vote_nacl_2t", "vote_nacl_raw"),
        "vote: cryptography 2 threads / 1 thread": ratio("vote_cryptography_2t",
                                                         "vote_cryptography"),
    }
    live = None if arguments.no_live else live_cache_rates(
        SMOKE_LIVE_SECONDS if arguments.smoke else arguments.live_seconds, arguments.cache)
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    command = "python -m benchmarks.sig " + " ".join(argv if argv is not None else sys.argv[1:])
    report = {
        "benchmark": "sig", "date": date, "command": command.strip(),
        "machine": describe_machine(), "count": count, "chunk": chunk,
        "rounds": len(samples["tx_coincurve"]), "load_average_start": load_start,
        "load_average_end": [round(value, 2) for value in os.getloadavg()],
        "rates": {name: {"cpu_us": round(statistics.median(v.cpu_us for v in values), 2),
                         "wall_us": round(statistics.median(v.wall_us for v in values), 2)}
                  for name, values in samples.items()},
        "ratios": ratios, "live": live,
    }
    text = render(report)
    print(text)
    markdown, data = results_path("sig", smoke=arguments.smoke)
    markdown.write_text(text, encoding="utf-8")
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {markdown} and {data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
