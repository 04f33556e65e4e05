"""The adversarial battery over HTTP against any node URL (cases: battery.py).

Each case is sent with a real HTTP client and judged as in the test process (`judge`); what it
must not change is read over the wire before and after: the node's mempool and the pending
nonces of the accounts the cases sign with. (The chain head is left out: a live network keeps
committing heartbeat blocks.) Transactions are signed with the accounts' pending nonces, read
from `eth_getTransactionCount`, so each is refused for the reason its case names.

    python -m tests.adversarial.remote_battery --url http://127.0.0.1:8601
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field

import httpx

from chain.genesis import build_genesis
from chain.presets import Preset, get_preset
from tests.adversarial.battery import ACCOUNTS, build_cases, judge
from tests.adversarial.raw_fuzzer import print_outcome
from tests.nodes.api_node import SigningClient

HTTP_TIMEOUT_S = 30.0


@dataclass
class RemoteNode(SigningClient):
    """A running node's identity for signing: nonces start at the account's pending nonce."""

    url: str = ""
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT_S))

    def pending_nonce(self, address: bytes) -> int:
        """`eth_getTransactionCount(address, "pending")` of the node."""
        answer = self.http.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": ["0x" + address.hex(), "pending"]}).json()
        return int(answer["result"], 16)

    def next_nonce(self, address: bytes) -> int:
        """The next nonce, counted from the node's pending nonce."""
        if address not in self.nonces:
            self.nonces[address] = self.pending_nonce(address)
        return super().next_nonce(address)

    def snapshot(self) -> tuple[object, ...]:
        """What a refused request must not change, as far as the wire shows it."""
        status = self.http.get(f"{self.url}/status").json()
        nonces = self.http.post(f"{self.url}/rpc", json=[
            {"jsonrpc": "2.0", "id": index, "method": "eth_getTransactionCount",
             "params": ["0x" + self.preset.key(label).address.hex(), "pending"]}
            for index, label in enumerate(ACCOUNTS)]).json()
        return status["mempool"], tuple(sorted((a["id"], a["result"]) for a in nonces))


@dataclass
class BatteryReport:
    """The cases sent, by family, and every wrong answer."""

    cases: int = 0
    families: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """A JSON-able summary."""
        return {"cases": self.cases, "families": dict(sorted(self.families.items())),
                "failures": len(self.failures)}


def run_battery(url: str, preset: Preset) -> BatteryReport:
    """Send every case to the node at `url`; the report."""
    base = url.rstrip("/")
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        node_id = http.get(f"{base}/status").json()["node_id"]
        node = RemoteNode(preset=preset, genesis=build_genesis(preset), node_id=node_id,
                          nonces={}, url=base, http=http)
        report = BatteryReport()
        for case in build_cases(node):
            before = node.snapshot()
            response = http.request(case.method, f"{base}{case.path}", content=case.body,
                                    headers=case.headers)
            problem = judge(case, response.status_code, response.text)
            if node.snapshot() != before:
                problem = f"changed state ({response.status_code} {response.text[:120]})"
            report.cases += 1
            report.families[case.family] += 1
            if problem is not None:
                report.failures.append(f"{case.family} / {case.name}: {problem}")
    return report


def main() -> int:
    """Command line: run the battery against a node; exit status 1 on any wrong answer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--preset", default="local4")
    arguments = parser.parse_args()
    report = run_battery(arguments.url, get_preset(arguments.preset))
    return print_outcome(report.summary(), report.failures)


if __name__ == "__main__":
    raise SystemExit(main())
