"""One seeded scenario for the simulator-versus-real-network tests, and what must agree.

`seeded_scenario(preset, genesis, seed)` signs publishes by every city's bureau (one of them
repeated, which the registry refuses: a reverted transaction), one grant per bank, and
interleaves the senders in an order drawn from `seed` while each sender's nonces stay in order.
`outcome_of(...)` reduces a run to what a teacher must be able to trust: the set of committed
transactions, each sender's order, every status with its revert reason, and the table state
read through the contracts' views, with the fields that legitimately differ between runs masked
(block numbers in `published_at`, block timestamps in `granted_at`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from chain.crypto import keccak
from chain.genesis import Genesis
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind, encode_record, payload_hash
from chain.records import record_id_for as make_record_id
from chain.wallet import sign_digest, sign_dynamic_fee, sign_legacy
from contracts import bindings

PUBLISHES_PER_CITY = 4
SECONDS_GRANT_LIFETIME = 10 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """One transaction of the scenario: who sends it, from which city, the raw bytes."""

    sender: str
    city_index: int
    raw: bytes
    payload: str | None = None
    """A publish's record payload (a node's REST routes queue a record write only with it)."""

    @property
    def transaction_hash(self) -> bytes:
        """keccak of the raw bytes."""
        return keccak(self.raw)


@dataclass(frozen=True, slots=True)
class Scenario:
    """The transactions in submission order and the table entries they touch."""

    transactions: tuple[SignedTransaction, ...]
    record_ids: tuple[bytes, ...]
    enterprises: tuple[bytes, ...]
    grants: tuple[tuple[bytes, bytes], ...]
    """(enterprise, querier address)."""


def seeded_scenario(preset: Preset, genesis: Genesis, seed: int) -> Scenario:
    """Publishes, a refused duplicate publish and grants, interleaved by `seed`."""
    queues: dict[str, list[SignedTransaction]] = {}
    record_ids: list[bytes] = []
    enterprises: list[bytes] = []
    grants: list[tuple[bytes, bytes]] = []
    cities = preset.cities
    for index, city in enumerate(cities):
        label = f"bureau:{city.value}"
        bureau = preset.key(label)
        queue = queues.setdefault(label, [])
        calls: list[bytes] = []
        payloads: list[str] = []
        for serial in range(PUBLISHES_PER_CITY):
            enterprise = preset.enterprise(f"enterprise:{city.value}:{serial % 3 + 1}")
            record = CreditRecord(enterprise.credit_code, RecordKind(serial % len(RecordKind)),
                                  "2024", {"serial": serial, "city": city.value, "seed": seed})
            digest = payload_hash(encode_record(record))
            record_id = make_record_id(bureau.address, digest)
            record_ids.append(record_id)
            code = enterprise.credit_code.to_bytes32()
            if code not in enterprises:
                enterprises.append(code)
            calls.append(bindings.encode_publish(record_id, code, int(record.kind), digest))
            payloads.append(encode_record(record).decode("utf-8"))
        calls.append(calls[0])  # the same record again: the registry refuses it
        payloads.append(payloads[0])
        for nonce, (data, payload) in enumerate(zip(calls, payloads, strict=True)):
            queue.append(SignedTransaction(label, index, sign_legacy(
                bureau, preset.chain_id, nonce, genesis.contracts.registry, data), payload))
    for index, city in enumerate(cities):
        label = f"bank:{city.value}"
        bank = preset.key(label)
        other = cities[(index + 1) % len(cities)]
        enterprise = preset.enterprise(f"enterprise:{other.value}:1")
        code = enterprise.credit_code.to_bytes32()
        expires = preset.genesis_timestamp_ms // 1000 + SECONDS_GRANT_LIFETIME
        digest = bindings.grant_digest(preset.chain_id, genesis.contracts.authorization, code,
                                       bank.address, ALL_KINDS_SCOPE, expires, 0)
        signature = sign_digest(preset.key(enterprise.label), digest)
        data = bindings.encode_grant(code, ALL_KINDS_SCOPE, expires, 0, signature.v,
                                     signature.r, signature.s)
        queues[label] = [SignedTransaction(label, index, sign_dynamic_fee(
            bank, preset.chain_id, 0, genesis.contracts.authorization, data))]
        grants.append((code, bank.address))
    rng = random.Random(seed)
    order: list[SignedTransaction] = []
    waiting = {label: list(queue) for label, queue in queues.items()}
    while waiting:
        label = rng.choice(sorted(waiting))
        order.append(waiting[label].pop(0))
        if not waiting[label]:
            del waiting[label]
    return Scenario(tuple(order), tuple(record_ids), tuple(enterprises), tuple(grants))


ReceiptOf = Callable[[bytes], tuple[int, int, int, str | None] | None]
"""transaction hash -> (height, index, status, revert reason), None while not committed."""

CallView = Callable[[bytes, bytes], bytes]
"""(contract address, calldata) -> the view's output at the head."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What must agree between the simulator and the real network."""

    committed: frozenset[bytes]
    order_by_sender: dict[str, tuple[bytes, ...]]
    statuses: dict[bytes, tuple[int, str | None]]
    records: dict[bytes, object]
    records_by_enterprise: dict[bytes, tuple[bytes, ...]]
    grants: dict[tuple[bytes, bytes], object]


def outcome_of(scenario: Scenario, genesis: Genesis, receipt_of: ReceiptOf,
               call: CallView) -> Outcome:
    """Reduce one run to its comparable outcome (height- and time-valued fields masked)."""
    located: dict[bytes, tuple[int, int, int, str | None]] = {}
    for transaction in scenario.transactions:
        found = receipt_of(transaction.transaction_hash)
        if found is not None:
            located[transaction.transaction_hash] = found
    order: dict[str, tuple[bytes, ...]] = {}
    for sender in sorted({t.sender for t in scenario.transactions}):
        mine = [t.transaction_hash for t in scenario.transactions
                if t.sender == sender and t.transaction_hash in located]
        order[sender] = tuple(sorted(mine, key=lambda h: located[h][:2]))
    registry, authorization = genesis.contracts.registry, genesis.contracts.authorization
    records = {
        record_id: dataclasses.replace(
            bindings.decode_record(call(registry, bindings.encode_record(record_id))),
            published_at=0)
        for record_id in scenario.record_ids
    }
    by_enterprise: dict[bytes, tuple[bytes, ...]] = {}
    for enterprise in scenario.enterprises:
        count = bindings.decode_uint(call(registry, bindings.encode_record_count(enterprise)))
        by_enterprise[enterprise] = tuple(
            call(registry, bindings.encode_record_at(enterprise, i)) for i in range(count))
    grants = {
        pair: dataclasses.replace(
            bindings.decode_grant(call(authorization, bindings.encode_grant_of(*pair))),
            granted_at=0)
        for pair in scenario.grants
    }
    return Outcome(frozenset(located), order,
                   {h: (found[2], found[3]) for h, found in located.items()},
                   records, by_enterprise, grants)
