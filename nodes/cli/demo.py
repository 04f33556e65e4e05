"""`make demo`: a whole network of node processes, used the way institutions use it, narrated.

Starts every node of a preset (`yrd-2021` by default) on loopback ports, then: bureaus of
several cities publish records (hash on chain, payload at their home node); a bank asks for a
remote enterprise's report without consent and is refused; enterprises sign grants; banks run
cross-region queries whose payloads come from the origin city's node, checked against their
on-chain hashes; an enterprise reads its audit trail and checks an entry's Merkle proof against
the root anchored on chain; a bank opens a dispute that the publisher answers and the regulator
decides. It prints a summary and stops every node; with `--keep-running` it keeps them running
until Ctrl-C (or SIGTERM) and only then lists the URLs to explore, so every URL it prints is
alive while it runs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.presets import Preset, get_preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from nodes.cli.progress import Progress
from nodes.client import ApiError, Enterprise, Institution, NodeClient
from nodes.cluster.network import find_free_base_port
from nodes.cluster.running import RunningNetwork, start_network
from nodes.cluster.stop_signals import terminate_as_interrupt

Printer = Callable[[str], None]
GRANT_LIFETIME_S = 30 * 24 * 3600
ANCHOR_WAIT_S = 30.0
PUBLISHES: tuple[tuple[str, str, RecordKind, dict[str, str | int | bool]], ...] = (
    # (city of the bureau, enterprise label, kind, fields)
    ("shanghai", "enterprise:shanghai:1", RecordKind.TAX, {"paid_cny": 1_280_000, "grade": "A"}),
    ("shanghai", "enterprise:shanghai:1", RecordKind.SOCIAL_INSURANCE_HOUSING_FUND,
     {"employees_insured": 412, "arrears": False}),
    ("nanjing", "enterprise:nanjing:1", RecordKind.LOAN, {"balance_cny": 5_000_000,
                                                          "overdue_days": 0}),
    ("hangzhou", "enterprise:hangzhou:1", RecordKind.UTILITIES, {"arrears": False}),
    ("hefei", "enterprise:hefei:1", RecordKind.JUDICIAL, {"open_cases": 0}),
    ("suzhou", "enterprise:suzhou:1", RecordKind.CUSTOMS, {"exports_cny": 73_000_000}),
)
QUERIES = (  # (city of the bank, enterprise label)
    ("hangzhou", "enterprise:shanghai:1"),
    ("nanjing", "enterprise:hefei:1"),
    ("shanghai", "enterprise:suzhou:1"),
)


@dataclass
class DemoSession:
    """The clients the demo uses and what it found, for the summary."""

    preset: Preset
    nodes: dict[str, NodeClient]
    say: Printer
    institutions: dict[str, Institution] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def home(self, city: str) -> NodeClient:
        """The first node of a city."""
        node = next(n for n in self.preset.nodes if n.city.value == city)
        return self.nodes[node.node_id]

    def institution(self, label: str) -> Institution:
        """An institution at its city's first node (the regulator at Shanghai's)."""
        if label not in self.institutions:
            city = label.split(":")[1] if ":" in label else "shanghai"
            self.institutions[label] = Institution(self.preset.key(label), self.home(city))
        return self.institutions[label]

    def enterprise(self, label: str) -> Enterprise:
        """An enterprise, talking to its city's first node."""
        spec = self.preset.enterprise(label)
        return Enterprise(self.preset.key(label), spec.credit_code,
                          self.home(spec.credit_code.city.value))


def _publish(session: DemoSession) -> dict[str, bytes]:
    session.say("1. Credit bureaus publish records at their home nodes "
                "(hash on chain, payload off chain)")
    published: dict[str, bytes] = {}
    pending: list[tuple[NodeClient, str]] = []
    cities = {city.value for city in session.preset.cities}
    for city, label, kind, fields in PUBLISHES:
        if city not in cities:
            continue
        bureau = session.institution(f"bureau:{city}")
        spec = session.preset.enterprise(label)
        result = bureau.publish(CreditRecord(spec.credit_code, kind, "2024", fields))
        published.setdefault(label, result.record_id)
        pending.append((bureau.node, result.transaction_hash))
        session.say(f"  {session.preset.institution(f'bureau:{city}').name} -> "
                    f"{bureau.node.node_id}: {kind.label} of {spec.name} ({spec.credit_code})")
    for node, transaction_hash in pending:
        found = node.wait_committed(transaction_hash)
    session.say(f"  committed by the BFT validators, last at height {found['block_height']}")
    return published


def _query(session: DemoSession, bank_city: str, label: str) -> dict[str, Any]:
    bank = session.institution(f"bank:{bank_city}")
    enterprise = session.enterprise(label)
    expires_at = int(time.time()) + GRANT_LIFETIME_S
    signature, nonce = enterprise.sign_grant(bank.address, expires_at)
    bank.node.wait_committed(bank.submit_grant(enterprise.credit_code, signature,
                                               ALL_KINDS_SCOPE, expires_at, nonce))
    report = bank.report(enterprise.credit_code.code)
    for item in report["records"]:
        provenance = item["provenance"]
        session.say(f"  {bank.node.node_id} <- {provenance['origin_node']} "
                    f"({provenance['origin_city']}): {item['kind']} v{item['version']} "
                    f"block {provenance['block_height']}, payload {item['payload_status']}: "
                    f"{item['payload']['fields'] if item['payload'] else '-'}")
    return report


def _queries(session: DemoSession) -> list[dict[str, Any]]:
    session.say("2. A Hangzhou bank asks for a Shanghai enterprise's report without consent")
    bank = session.institution("bank:hangzhou")
    code = session.preset.enterprise("enterprise:shanghai:1").credit_code.code
    try:
        bank.report(code)
    except ApiError as refused:
        session.say(f"  refused: {refused.status} {refused.error}")
    session.say("3. Enterprises sign grants (EIP-712); banks submit them; cross-region queries")
    cities = {city.value for city in session.preset.cities}
    return [_query(session, city, label) for city, label in QUERIES
            if city in cities and label.split(":")[1] in cities]


def _audit(session: DemoSession, report: dict[str, Any]) -> None:
    session.say("4. The enterprise reads its audit trail (查询留痕) and checks a Merkle proof")
    enterprise = session.enterprise("enterprise:shanghai:1")
    deadline = time.monotonic() + ANCHOR_WAIT_S
    trail = enterprise.trail()
    while not all(e["anchored"] for e in trail["entries"]) and time.monotonic() < deadline:
        time.sleep(0.5)
        trail = enterprise.trail()
    for entry in trail["entries"]:
        session.say(f"  {entry['entry_id']}: {entry['querier_name']} ({entry['querier_city']}) "
                    f"at {time.strftime('%H:%M:%S', time.localtime(entry['time_ms'] / 1000))}, "
                    f"{entry['records']} records, anchored in batch {entry['batch_seq']}")
    proof = enterprise.audit_proof(report["audit_entry"])
    checked = enterprise.node.verify_audit_proof(proof)
    session.facts["proof"] = proof
    session.say(f"  proof of {proof['entry_id']}: {len(proof['proof']['path'])} sibling hashes "
                f"to root {proof['batch']['merkle_root'][:18]}…, anchored in block "
                f"{proof['batch']['block_height']}; checked against the chain: {checked}")


def _dispute(session: DemoSession, record_id: bytes) -> None:
    session.say("5. A dispute (异议处理): opened by the bank, answered by the bureau, "
                "decided by the regulator")
    bank = session.institution("bank:nanjing")
    bureau = session.institution("bureau:hefei")
    regulator = session.institution("regulator")
    transaction, dispute_id = bank.open_dispute(record_id, "the enterprise says the case "
                                                "count is out of date")
    bank.node.wait_committed(transaction)
    bureau.node.wait_committed(bureau.respond(dispute_id, "case register re-checked"))
    regulator.node.wait_committed(regulator.resolve(dispute_id, upheld=False))
    dispute = regulator.node.get(f"/v1/disputes/0x{dispute_id.hex()}")
    session.facts["dispute"] = dispute
    session.say(f"  dispute 0x{dispute_id.hex()[:16]}… on record 0x{record_id.hex()[:16]}…: "
                f"{dispute['status']} (opened at block {dispute['opened_at_block']}, deadline "
                f"{dispute['deadline_block']})")


def _summary(session: DemoSession, network: RunningNetwork, started: float,
             keep_running: bool) -> None:
    first = network.nodes[0]
    status = session.nodes[first.node_id].status(fresh=True)
    session.say("Summary")
    session.say(f"  {len(network.nodes)} nodes in {len(session.preset.cities)} cities, height "
                f"{status['height']}, {time.monotonic() - started:.0f} s")
    if not keep_running:
        session.say("  the nodes stop now; `yrdchain demo --keep-running` (make demo KEEP=1) "
                    "keeps them up to explore /docs, /rpc, /metrics and /dashboard")
        return
    session.say(f"  API docs:  {first.url}/docs      (every node serves /docs, /openapi.json)")
    session.say(f"  JSON-RPC:  {first.url}/rpc       (web3.py, ethers.js)")
    session.say(f"  metrics:   {first.url}/metrics   dashboard: {first.url}/dashboard")
    for node in network.nodes:
        session.say(f"    {node.node_id:<13} {node.url}")


def run_network_demo(preset_name: str = "yrd-2021", data_dir: Path | None = None,
                     base_port: int | None = None, say: Printer = print,
                     keep_running: bool = False) -> dict[str, Any]:
    """Run the demo on a fresh network; returns what it found (for tests)."""
    preset = get_preset(preset_name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="yrdchain-demo-") as scratch:
        directory = data_dir or Path(scratch)
        port = base_port or find_free_base_port(len(preset.nodes))
        say(f"yrdchain network demo — preset {preset.name}: {len(preset.nodes)} validator "
            f"nodes in {len(preset.cities)} cities, ports {port}..{port + len(preset.nodes) - 1}")
        progress = Progress("starting nodes", len(preset.nodes), say)
        session: DemoSession | None = None
        try:
            with terminate_as_interrupt(), start_network(
                    preset, directory, port, on_ready=progress.ready) as network:
                progress.done(f"{len(network.nodes)} nodes answer (logs in {network.log_dir})")
                for node in network.nodes:  # URLs only where they stay alive: see the summary
                    say(f"  {node.node_id:<13} {node.city:<10} port {node.url.rsplit(':', 1)[1]}")
                session = DemoSession(preset, {node.node_id: NodeClient(node.url)
                                               for node in network.nodes}, say)
                session.facts["urls"] = network.urls()
                try:
                    published = _publish(session)
                    reports = _queries(session)
                    _audit(session, reports[0])
                    _dispute(session, published["enterprise:hefei:1"])
                    session.facts["reports"] = reports
                    _summary(session, network, started, keep_running)
                    if keep_running:
                        say("Nodes keep running; Ctrl-C stops them.")
                        while True:
                            time.sleep(1.0)
                finally:
                    for client in session.nodes.values():
                        client.close()
        except KeyboardInterrupt:
            say("stopping…")
        say("All nodes stopped.")
        return session.facts if session is not None else {}
