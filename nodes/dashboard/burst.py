"""Bursts of load started from the dashboard: publishes, or cross-region queries with consent.

A publish burst signs `CreditRegistry.publish` transactions from the bureaus of every city in
turn (development keys of the preset) and posts each to a node of the bureau's own city.

A query burst pairs the bank of each city with an enterprise of the next city, makes sure each
enterprise has a record and has granted its bank consent (publishing and granting on chain first
when needed, and waiting for those blocks), then sends signed report queries
(`GET /v1/enterprises/{code}/report`, docs/spec/api.md) to the bank's own city node. The node
that answers announces each query on its stream; the burst also announces what it saw, under the
same `key`, so the page draws the arc even when the answering node says nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from chain import builder
from chain.cities import City
from chain.crypto import PrivateKey
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from contracts import bindings
from nodes.query.request_signing import new_nonce, sign_request
from nodes.runtime.asyncio_ports import now_ms
from nodes.runtime.node import NodeRuntime

LOGGER = logging.getLogger(__name__)

MAX_BURST = 500  # requests per burst: enough to see the chain react, not enough to drown it
BURST_TIMEOUT_S = 10.0
COMMIT_WAIT_S = 30.0  # how long a query burst waits for its grants and records to commit
GRANT_LIFETIME_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class QueryPair:
    """A bank of one city asking about an enterprise of another."""

    bank_city: City
    enterprise_label: str


def query_pairs(preset: Preset) -> list[QueryPair]:
    """Each city's bank paired with the first enterprise of the next city (one bank each)."""
    cities = preset.cities
    return [QueryPair(city, f"enterprise:{cities[(index + 1) % len(cities)].value}:1")
            for index, city in enumerate(cities)]


def home_node(runtime: NodeRuntime, city: City) -> tuple[str, str]:
    """(node id, URL) of the first node of `city`: where its institutions send requests."""
    for node in runtime.preset.nodes:
        if node.city == city:
            if node.node_id == runtime.config.node_id:
                return node.node_id, runtime.config.url
            return node.node_id, runtime.config.peers[node.node_id]
    raise KeyError(f"no node in {city.value}")


class Burst:
    """One burst's signer: keeps each account's next nonce while it submits."""

    def __init__(self, runtime: NodeRuntime, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.preset = runtime.preset
        self.client = client
        self.nonces: dict[bytes, int] = {}
        self.submitted: list[bytes] = []

    def next_nonce(self, key: PrivateKey) -> int:
        """The account's next transaction nonce, counting what this burst already sent."""
        nonce = self.nonces.get(key.address)
        if nonce is None:
            nonce = self.runtime.ledger.pending_nonce(key.address)
        self.nonces[key.address] = nonce + 1
        return nonce

    def signer(self, key: PrivateKey) -> builder.TransactionSigner:
        """How `key` signs on this chain (legacy transactions)."""
        return builder.TransactionSigner(key, self.preset.chain_id)

    async def send(self, raw: bytes, city: City, payload: dict[str, Any] | None = None) -> bool:
        """Post a signed transaction to the home node of `city`; True when admitted.

        With a payload it goes to `/v1/records`, so the record's content is stored off chain at
        its city's nodes; otherwise to `/v1/transactions`.
        """
        _, url = home_node(self.runtime, city)
        body: dict[str, Any] = {"raw": "0x" + raw.hex()}
        if payload is not None:
            body["payload"] = payload
        try:
            response = await self.client.post(
                f"{url}/v1/records" if payload is not None else f"{url}/v1/transactions",
                json=body)
        except httpx.HTTPError as error:
            LOGGER.warning("burst transaction to %s failed: %s", url, error)
            return False
        if response.status_code != 202:
            LOGGER.warning("burst transaction refused by %s: %s", url, response.text[:200])
            return False
        self.submitted.append(bytes.fromhex(response.json()["transaction_hash"][2:]))
        return True

    async def publish(self, city: City, enterprise_label: str, serial: int) -> bool:
        """Publish one record of an enterprise by the bureau of `city`."""
        enterprise = self.preset.enterprise(enterprise_label)
        kind = (RecordKind.TAX, RecordKind.UTILITIES, RecordKind.LOAN)[serial % 3]
        record = CreditRecord(enterprise.credit_code, kind, "2024",
                              {"burst": serial, "at_ms": now_ms()})
        bureau = self.preset.key(f"bureau:{city.value}")
        signed = builder.build_publish(self.signer(bureau), self.next_nonce(bureau),
                                       self.runtime.ledger.contracts.registry, record,
                                       salt=serial)
        return await self.send(signed.raw, city, payload=record.to_json_object())

    async def grant(self, pair: QueryPair) -> bool:
        """The enterprise's signed consent for the bank, submitted by the bank."""
        enterprise = self.preset.enterprise(pair.enterprise_label)
        bank = self.preset.key(f"bank:{pair.bank_city.value}")
        contracts = self.runtime.ledger.contracts
        code = enterprise.credit_code.to_bytes32()
        grant_nonce = bindings.decode_uint(self.runtime.ledger.call(
            contracts.authorization, bindings.encode_grant_nonce_of(code)).output)
        expires_at = now_ms() // 1000 + GRANT_LIFETIME_S
        consent = builder.sign_consent(self.preset.key(enterprise.label), self.preset.chain_id,
                                       contracts.authorization, enterprise.credit_code,
                                       bank.address, ALL_KINDS_SCOPE, expires_at, grant_nonce)
        return await self.send(builder.build_grant(self.signer(bank), self.next_nonce(bank),
                                                   contracts.authorization, consent),
                               pair.bank_city)

    def authorized(self, pair: QueryPair) -> bool:
        """Whether the enterprise's grant to the bank is on chain and unexpired now."""
        enterprise = self.preset.enterprise(pair.enterprise_label)
        bank = self.preset.key(f"bank:{pair.bank_city.value}")
        result = self.runtime.ledger.call(
            self.runtime.ledger.contracts.authorization,
            bindings.encode_is_authorized(enterprise.credit_code.to_bytes32(), bank.address,
                                          int(RecordKind.TAX)), timestamp_ms=now_ms())
        return bindings.decode_bool(result.output)

    async def wait_committed(self) -> bool:
        """Wait until this node has committed everything the burst submitted."""
        deadline = asyncio.get_running_loop().time() + COMMIT_WAIT_S
        while asyncio.get_running_loop().time() < deadline:
            if all(self.runtime.ledger.receipt(digest) is not None
                   for digest in self.submitted):
                return True
            await asyncio.sleep(0.25)
        return False

    async def query(self, pair: QueryPair, serial: int) -> dict[str, Any]:
        """One signed report query by the bank at its home node; the `query` event it implies."""
        enterprise = self.preset.enterprise(pair.enterprise_label)
        bank = self.preset.institution(f"bank:{pair.bank_city.value}")
        node_id, url = home_node(self.runtime, pair.bank_city)
        path = f"/v1/enterprises/{enterprise.credit_code.code}/report"
        nonce = new_nonce()
        headers = sign_request(self.preset.key(bank.label), self.preset.chain_id, node_id,
                               "GET", path, now_ms(), nonce)
        event: dict[str, Any] = {
            "type": "query", "key": f"query:{nonce}", "from_city": pair.bank_city.value,
            "to_city": enterprise.credit_code.city.value, "enterprise": enterprise.credit_code.code,
            "enterprise_name": enterprise.name, "querier_name": bank.name, "served_by": node_id,
            "verified": False, "serial": serial}
        try:
            response = await self.client.get(f"{url}{path}", headers=headers)
        except httpx.HTTPError as error:
            return {**event, "outcome": f"unreachable: {error}"}
        if response.status_code != 200:
            return {**event, "outcome": f"refused {response.status_code}",
                    "reason": response.text[:200]}
        return {**event, **report_summary(response.json())}


def report_summary(report: Any) -> dict[str, Any]:
    """Origin cities, record count and hash check of a report (docs/spec/api.md)."""
    records = report.get("records", []) if isinstance(report, dict) else []
    records = [record for record in records if isinstance(record, dict)]
    statuses = [str(record.get("payload_status", "")) for record in records]
    origins = sorted({str(record.get("provenance", {}).get("origin_city", ""))
                      for record in records if isinstance(record.get("provenance"), dict)}
                     - {"", "unknown"})
    served = [status for status in statuses if status != "withheld"]
    summary: dict[str, Any] = {
        "outcome": "answered", "records": len(records),
        "verified": bool(served) and all(status == "verified" for status in served),
        "tampered": statuses.count("tampered"), "unavailable": statuses.count("unavailable")}
    if origins:
        summary["to_city"] = origins[0]
        summary["origin_cities"] = origins
    return summary


async def publish_burst(runtime: NodeRuntime, count: int) -> dict[str, Any]:
    """Publish `count` records from the bureaus of every city in turn."""
    cities = runtime.preset.cities
    async with httpx.AsyncClient(timeout=BURST_TIMEOUT_S) as client:
        burst = Burst(runtime, client)
        admitted = 0
        for serial in range(count):
            city = cities[serial % len(cities)]
            label = f"enterprise:{city.value}:{1 + (serial // len(cities)) % 3}"
            admitted += await burst.publish(city, label, serial)
    return {"kind": "publish", "requested": count, "admitted": admitted}


async def query_burst(runtime: NodeRuntime, count: int) -> dict[str, Any]:
    """Prepare records and consent, then send `count` cross-region queries."""
    pairs = query_pairs(runtime.preset)
    answered = 0
    async with httpx.AsyncClient(timeout=BURST_TIMEOUT_S) as client:
        burst = Burst(runtime, client)
        for serial, pair in enumerate(pairs):
            enterprise = runtime.preset.enterprise(pair.enterprise_label)
            if not runtime.ledger.records_of(enterprise.credit_code.code):
                await burst.publish(enterprise.credit_code.city, pair.enterprise_label, serial)
            if not burst.authorized(pair):
                await burst.grant(pair)
        if burst.submitted and not await burst.wait_committed():
            return {"kind": "query", "requested": count, "answered": 0,
                    "error": "the records and grants of the burst did not commit in time"}
        for serial in range(count):
            event = await burst.query(pairs[serial % len(pairs)], serial)
            answered += event["outcome"] == "answered"
            runtime.emit(event)
    return {"kind": "query", "requested": count, "answered": answered}
