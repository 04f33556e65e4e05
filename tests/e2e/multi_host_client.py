"""The client side of the multi-host test, run inside its own network namespace.

`python tests/e2e/multi_host_client.py '{"shanghai-1": "http://10.200.0.10:26600", ...}'`
waits for every node, has Shanghai's bureau publish a record at the Shanghai node, the
enterprise grant consent to Hangzhou's bank, and the bank read the report at the Hangzhou node
(which fetches the payload from the Shanghai host), then prints what it saw as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx

from chain.presets import get_preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from nodes.client import Enterprise, Institution, NodeClient

READY_TIMEOUT_S = 90.0
MIN_HEIGHT = 2  # a few blocks committed by validators on four hosts


def wait_for_nodes(urls: dict[str, str]) -> None:
    """Every node answers /status at a height of at least MIN_HEIGHT."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = dict(urls)
    with httpx.Client(timeout=2.0) as client:
        while waiting:
            if time.monotonic() > deadline:
                raise SystemExit(f"not ready after {READY_TIMEOUT_S:.0f} s: {sorted(waiting)}")
            for node_id, url in list(waiting.items()):
                try:
                    if client.get(f"{url}/status").json()["height"] >= MIN_HEIGHT:
                        del waiting[node_id]
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
            time.sleep(0.5)


def share_a_record(urls: dict[str, str]) -> dict[str, Any]:
    """Publish in Shanghai, consent, report in Hangzhou; the report's records."""
    preset = get_preset("local4")
    bureau = Institution(preset.key("bureau:shanghai"), NodeClient(urls["shanghai-1"]))
    bank = Institution(preset.key("bank:hangzhou"), NodeClient(urls["hangzhou-1"]))
    spec = preset.enterprise("enterprise:shanghai:1")
    published = bureau.publish(CreditRecord(spec.credit_code, RecordKind.TAX, "2024",
                                            {"paid_cny": 2_460_000}))
    bank.node.wait_committed(published.transaction_hash, timeout_s=60)
    enterprise = Enterprise(preset.key(spec.label), spec.credit_code,
                            NodeClient(urls["hangzhou-1"]))
    expires_at = int(time.time()) + 3600
    signature, nonce = enterprise.sign_grant(bank.address, expires_at)
    bank.node.wait_committed(bank.submit_grant(spec.credit_code, signature, ALL_KINDS_SCOPE,
                                               expires_at, nonce), timeout_s=60)
    return bank.report(spec.credit_code.code)


def main(argv: list[str]) -> int:
    """Run the scenario; print statuses and the report as JSON."""
    urls: dict[str, str] = json.loads(argv[0])
    wait_for_nodes(urls)
    report = share_a_record(urls)
    with httpx.Client(timeout=5.0) as client:
        statuses = {node_id: client.get(f"{url}/status").json() for node_id, url in urls.items()}
    print(json.dumps({"statuses": statuses, "report": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
