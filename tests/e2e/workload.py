"""Signed publish transactions for end-to-end tests, with nonces tracked per bureau."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import httpx

from chain.builder import TransactionSigner, build_publish
from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import CreditRecord, RecordKind


@dataclass
class PublishWorkload:
    """Publishes by the bureaus of the preset's cities, round robin."""

    preset: Preset
    genesis: Genesis
    nonces: dict[str, int] = field(default_factory=dict)
    serial: itertools.count[int] = field(default_factory=itertools.count)

    def next_publish(self, city: str) -> bytes:
        """A signed publish by `city`'s bureau for one of the demo enterprises."""
        label = f"bureau:{city}"
        key = self.preset.key(label)
        number = next(self.serial)
        enterprise = self.preset.enterprises[number % len(self.preset.enterprises)]
        record = CreditRecord(enterprise.credit_code, RecordKind.TAX, "2024",
                              {"serial": number, "city": city})
        nonce = self.nonces.get(label, 0)
        self.nonces[label] = nonce + 1
        signed = build_publish(TransactionSigner(key, self.preset.chain_id), nonce,
                               self.genesis.contracts.registry, record)
        PAYLOADS[signed.raw] = signed.payload.decode("utf-8")
        return signed.raw


PAYLOADS: dict[bytes, str] = {}
"""The payload of each publish `PublishWorkload` signed, by raw transaction: a node queues a
record write only with its payload."""


def submit(client: httpx.Client, url: str, raw: bytes) -> str:
    """POST a raw transaction (with its payload when it is a workload publish); return its hash
    (AssertionError with the body otherwise)."""
    body = {"raw": "0x" + raw.hex()}
    if raw in PAYLOADS:
        body["payload"] = PAYLOADS[raw]
    response = client.post(f"{url}/v1/transactions", json=body)
    assert response.status_code == 202, response.text
    transaction_hash: str = response.json()["transaction_hash"]
    return transaction_hash


def is_committed(client: httpx.Client, url: str, transaction_hash: str) -> bool:
    """Whether a node has the transaction in a committed block."""
    response = client.get(f"{url}/v1/transactions/{transaction_hash}")
    return response.status_code == 200 and response.json()["status"] == "committed"
