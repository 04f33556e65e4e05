"""One node's app in the test process: runtime over in-memory stores, no peers, no consensus.

Blocks are built and committed directly on the ledger (`ApiNode.commit`), and the runtime's
commit hooks are called as the real runtime calls them, so the API's caches and audit anchors
see every block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from chain.builder import TransactionSigner, build_publish
from chain.genesis import Genesis
from chain.ledger import CommittedBlock
from chain.presets import Preset
from chain.records import CreditRecord, RecordKind
from chain.storage import MemoryBlockStore
from chain.wallet import sign_legacy
from nodes.api.app import create_app
from nodes.api.rate_limits import RateLimiter, RateLimits
from nodes.api.services import NodeServices
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.query.request_signing import sign_request
from nodes.runtime.asyncio_ports import process_node
from nodes.runtime.config import NodeConfig
from nodes.runtime.node import NodeRuntime


@dataclass
class SigningClient:
    """Signs transactions and requests for one node with a preset's keys, nonces counted here."""

    preset: Preset
    genesis: Genesis
    node_id: str
    nonces: dict[bytes, int]

    def next_nonce(self, address: bytes) -> int:
        """The nonce of an account's next transaction (counted from 0)."""
        nonce = self.nonces.get(address, 0)
        self.nonces[address] = nonce + 1
        return nonce

    def sign(self, label: str, to: bytes, data: bytes) -> bytes:
        """A signed transaction by a preset key."""
        key = self.preset.key(label)
        return sign_legacy(key, self.preset.chain_id, self.next_nonce(key.address), to, data)

    def publish_body(self, label: str, record: CreditRecord) -> dict[str, object]:
        """The body of POST /v1/records for a record published by `label`."""
        key = self.preset.key(label)
        signed = build_publish(TransactionSigner(key, self.preset.chain_id),
                               self.next_nonce(key.address), self.genesis.contracts.registry,
                               record)
        return {"raw": "0x" + signed.raw.hex(), "payload": record.to_json_object()}

    def signed_headers(self, label: str, path: str, nonce: str | None = None) -> dict[str, str]:
        """Headers of a signed GET by a preset key to this node."""
        return sign_request(self.preset.key(label), self.preset.chain_id, self.node_id, "GET",
                            path, int(time.time() * 1000), nonce)


@dataclass
class ApiNode(SigningClient):
    """A node's runtime, services and a test client of its app."""

    runtime: NodeRuntime
    services: NodeServices
    client: TestClient

    def commit(self) -> CommittedBlock:
        """Build a block of everything pending, append it, and run the commit hooks."""
        ledger = self.runtime.ledger
        block = ledger.build_block(int(time.time() * 1000), self.runtime.config.node_id)
        committed = ledger.append_block(block)
        for hook in self.runtime.commit_hooks:
            hook(committed)
        return committed


def make_api_node(preset: Preset, genesis: Genesis, directory: Path,
                  node_id: str = "shanghai-1", limits: RateLimits | None = None) -> ApiNode:
    """A node of `preset` with its whole app (no transport started, no peers)."""
    ensure_certificates(preset, directory)
    config = NodeConfig(node_id, preset.name, directory / node_id, "127.0.0.1", 1)
    runtime = process_node(config, genesis, MemoryBlockStore(),
                           load_validator_set(preset, directory)).runtime
    app = create_app(runtime)
    services: NodeServices = app.state.services
    if limits is not None:
        services.query_limiter = RateLimiter(limits.queries, "signed requests")
        services.write_limiter = RateLimiter(limits.writes, "transactions")
    return ApiNode(preset=preset, genesis=genesis, node_id=node_id, nonces={}, runtime=runtime,
                   services=services, client=TestClient(app, raise_server_exceptions=False))


def tax_record(preset: Preset, label: str, serial: int = 0) -> CreditRecord:
    """A tax record of one of the preset's enterprises."""
    return CreditRecord(preset.enterprise(label).credit_code, RecordKind.TAX, "2024",
                        {"paid_cny": 1_000_000 + serial, "grade": "A"})
