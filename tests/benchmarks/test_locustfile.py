"""The Locust users (benchmarks/locustfile.py) against a real node app served over a socket: each
user class sends its requests, signed where the route asks for it, and none fails.

Locust runs as its own process (it patches the standard library with gevent on import, which must
not happen inside the test process); the run description names the served node and a real grant.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain import builder
from chain.crypto import checksum_address
from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE
from nodes.api.limits import HttpLimits
from nodes.cluster.network import find_free_base_port
from tests.nodes.api_node import ApiNode, make_api_node, tax_record
from tests.nodes.served_node import ServedApp, served

REPOSITORY = Path(__file__).resolve().parents[2]
USERS = ("QueryUser", "EnterpriseUser", "StatusUser", "PublisherUser")
ENTERPRISE, BANK = "enterprise:shanghai:1", "bank:shanghai"
RUN_SECONDS = 3


@pytest.fixture(scope="module")
def node(preset: Preset, genesis: Genesis, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    """Shanghai's node with one record of a Shanghai enterprise and its grant to the bank."""
    node = make_api_node(preset, genesis, tmp_path_factory.mktemp("locust"))
    response = node.client.post("/v1/records",
                                json=node.publish_body("bureau:shanghai",
                                                       tax_record(preset, ENTERPRISE)))
    assert response.status_code == 202, response.text
    enterprise = preset.enterprise(ENTERPRISE)
    consent = builder.sign_consent(
        preset.key(ENTERPRISE), preset.chain_id, genesis.contracts.authorization,
        enterprise.credit_code, preset.key(BANK).address, ALL_KINDS_SCOPE,
        int(time.time()) + 3600, 0)
    bank = preset.key(BANK)
    node.runtime.submit_transaction(builder.build_grant(
        builder.TransactionSigner(bank, preset.chain_id, dynamic_fee=True), 0,
        genesis.contracts.authorization, consent))
    committed = node.commit()
    assert [receipt.status for receipt in committed.receipts] == [1, 1]
    return node


@pytest.fixture(scope="module")
def server(node: ApiNode) -> Iterator[ServedApp]:
    app = node.client.app
    with served(app, find_free_base_port(1), HttpLimits()) as serving:  # type: ignore[arg-type]
        yield serving


def test_every_user_class_sends_requests_that_succeed(node: ApiNode, server: ServedApp,
                                                      tmp_path: Path) -> None:
    preset, genesis = node.preset, node.genesis
    code = preset.enterprise(ENTERPRISE).credit_code.code
    run = tmp_path / "run.json"
    run.write_text(json.dumps({
        "preset": preset.name, "chain_id": preset.chain_id,
        "nodes": [{"node_id": "shanghai-1", "city": "shanghai", "url": server.url}],
        "grants": [[code, "shanghai", BANK]],
        "registry": checksum_address(genesis.contracts.registry),
    }), encoding="utf-8")
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), YRD_BENCH_RUN=str(run),
                       YRD_BENCH_RATE_PER_USER="5", YRD_BENCH_PUBLISH_RATE_PER_USER="2",
                       YRD_BENCH_PUBLISHERS="1")
    finished = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "benchmarks/locustfile.py", "--headless",
         "--users", str(len(USERS)), "--spawn-rate", str(len(USERS)),
         "--run-time", f"{RUN_SECONDS}s", "--csv", str(tmp_path / "run"), "--only-summary",
         "--loglevel", "WARNING", *USERS],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120)
    with (tmp_path / "run_stats.csv").open(encoding="utf-8") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    for name in ("report shanghai->shanghai", "enterprise (unsigned)", "status (trivial)",
                 "publish shanghai", "rpc nonce"):
        assert name in rows, (name, sorted(rows), finished.stderr[-2000:])
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, (name, finished.stderr[-2000:])
    published = int(rows["publish shanghai"]["Request Count"])
    # every publish Locust counted was admitted (one in flight at the stop may be too)
    assert published <= len(node.runtime.ledger.mempool) <= published + 1
