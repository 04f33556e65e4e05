"""`make chaos`, first half: fuzz a whole local4 network for minutes.

Schemathesis fuzzes the OpenAPI surface of one node (check: no server error) while the raw-bytes
fuzzer (tests/adversarial/raw_fuzzer.py) hits the other nodes; afterwards every node must still
answer and agree on its chain.

    python -m tests.adversarial.chaos_fuzz --minutes 10 --seed 7 --base-port 27200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.adversarial.raw_fuzzer import FuzzReport, fuzz
from tests.e2e.network import running_network


def main() -> int:
    """Run both fuzzers for the given minutes; exit 1 on any 5xx or a node that stopped."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--base-port", type=int, default=27_200)
    arguments = parser.parse_args()
    seconds = arguments.minutes * 60
    with tempfile.TemporaryDirectory(prefix="yrd-chaos-") as directory, running_network(
            "local4", Path(directory), base_port=arguments.base_port) as network:
        reports: dict[str, FuzzReport] = {}

        def raw(node_id: str, seed: int) -> None:
            reports[node_id] = fuzz(network.url(node_id), seed, seconds=seconds)

        threads = [threading.Thread(target=raw, args=(node_id, arguments.seed + index))
                   for index, node_id in enumerate(network.node_ids[1:])]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        schemathesis = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run",
             f"{network.url(network.node_ids[0])}/openapi.json", "--checks",
             "not_a_server_error", "--max-time", str(int(seconds)), "--seed",
             str(arguments.seed), "--max-examples", "100000", "--no-color"],
            capture_output=True, text=True, check=False)
        for thread in threads:
            thread.join()
        alive = {node_id: network.status(node_id)["height"] for node_id in network.node_ids}
        summary = {"seconds": round(time.monotonic() - started),
                   "schemathesis_exit": schemathesis.returncode,
                   "raw": {node: report.summary() for node, report in reports.items()},
                   "heights_after": alive}
        print(schemathesis.stdout[-3000:])
        print(json.dumps(summary))
        failed = schemathesis.returncode != 0 or any(r.failures for r in reports.values())
        for report in reports.values():
            for failure in report.failures[:10]:
                print(failure)
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
