"""A seeded data set, signed as batch transactions: what `yrdchain dataset` loads or imports.

What a data set holds (pure: the same preset, size and seed give the same bytes):

- `enterprises` enterprises with valid Unified Social Credit Codes
  (`chain.enterprise.make_credit_code`), spread evenly over the preset's cities, each with a
  development key (`enterprise_key_seed`) registered on chain by its city's bureau
  (`Authorization.register_enterprise_batch`, 64 a transaction);
- `records` credit records, `records / enterprises` per enterprise, published by the bureau of
  the enterprise's city (`CreditRegistry.publish_batch`, 64 a transaction); each payload is
  the record's canonical JSON, off chain at that city's nodes;
- for `granted` of the enterprises: one grant (EIP-712 signed by the enterprise's key) to a bank,
  the banks taken round robin so every (bank city, enterprise city) pair occurs, submitted by
  the bank (`Authorization.grant_batch`, 64 a transaction).

Every transaction is built and signed by `chain.builder` with the institution's development
key. A grant needs its enterprise's key on chain, so a loader commits the registrations before
it sends any grant (`DatasetPlan.registrations`, then `grants` and `publishes`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chain.builder import (
    TransactionSigner,
    build_grant_batch,
    build_publish_batch,
    build_register_enterprise_batch,
    sign_consent,
)
from chain.crypto import derive_private_key
from chain.enterprise import EnterpriseId, make_credit_code
from chain.genesis import ContractAddresses
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from contracts import bindings

BATCH_ITEMS = bindings.PUBLISH_BATCH_LIMIT  # 64 items per batch transaction (every batch form)
BATCH_GAS = 20_000_000  # above the native price of any 64-item batch (≈ 5.6 M for publishes)
SERIAL_BASE = 20_000_000  # organisation-code serials of data-set enterprises (presets use less)
GRANT_EXPIRES_AT_S = 4_102_444_800  # 2100-01-01: data sets stay valid for years


@dataclass(frozen=True, slots=True)
class DatasetSize:
    """How big a data set is."""

    name: str
    enterprises: int
    records: int
    granted: int

    def __post_init__(self) -> None:
        if self.enterprises < 1 or self.records < 0 or not 0 <= self.granted <= self.enterprises:
            raise ValueError("a data set has at least one enterprise, no negative records, and "
                             "at most one grant per enterprise")


@dataclass(frozen=True, slots=True)
class PlannedEnterprise:
    """One enterprise of the data set: its code, records, and the bank it authorizes (if any)."""

    code: EnterpriseId
    records: int
    bank: str | None  # the label of the bank it grants to, e.g. "bank:hangzhou"


@dataclass(frozen=True, slots=True)
class Submission:
    """One signed batch transaction of the data set and what goes with it."""

    sender: str  # the institution's label, e.g. "bureau:shanghai"
    city: str  # the sender's city: its home node is the city's first node
    nonce: int
    raw: bytes
    units: int  # items the transaction writes (enterprises, grants or records)
    payloads: tuple[bytes, ...] = ()  # a publish batch: each record's canonical bytes

    @property
    def path(self) -> str:
        """The REST route that takes it (a publish carries its payloads)."""
        return "/v1/records" if self.payloads else "/v1/transactions"

    def document(self) -> dict[str, Any]:
        """The JSON body of that route."""
        document: dict[str, Any] = {"raw": "0x" + self.raw.hex()}
        if self.payloads:
            document["payloads"] = [payload.decode("utf-8") for payload in self.payloads]
        return document


def enterprise_key_seed(seed: int, code: str) -> bytes:
    """The seed of a data-set enterprise's development key."""
    return f"yrdchain-bench:{seed}:enterprise:{code}".encode()


def plan_enterprises(preset: Preset, size: DatasetSize, seed: int) -> list[PlannedEnterprise]:
    """The enterprises of a data set, in a seeded order (pure)."""
    random_source = random.Random(seed)
    cities = preset.cities
    banks = [f"bank:{city.value}" for city in cities]
    per_enterprise, extra = divmod(size.records, size.enterprises)
    granted = set(random_source.sample(range(size.enterprises), size.granted))
    planned = []
    for index in range(size.enterprises):
        city = cities[index % len(cities)]
        code = make_credit_code(city, SERIAL_BASE + index // len(cities))
        bank = banks[(index // len(cities) + index) % len(banks)] if index in granted else None
        planned.append(PlannedEnterprise(code, per_enterprise + (index < extra), bank))
    return planned


def record_of(enterprise: EnterpriseId, number: int, random_source: random.Random
              ) -> CreditRecord:
    """The `number`-th record of an enterprise, with seeded content."""
    kind = RecordKind(number % len(RecordKind))
    return CreditRecord(enterprise, kind, f"{2020 + number // 4 % 5}-Q{number % 4 + 1}", {
        "sequence": number, "amount_cny": random_source.randrange(10_000, 50_000_000),
        "source": f"{enterprise.city.value} bureau", "overdue": random_source.random() < 0.05})


def _chunks(items: list[Any], size: int = BATCH_ITEMS) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True, slots=True)
class DatasetPlan:
    """A planned data set on one chain: builds its signed transactions, sender by sender."""

    preset: Preset
    contracts: ContractAddresses
    planned: tuple[PlannedEnterprise, ...]
    seed: int

    @property
    def chain_id(self) -> int:
        """The chain the transactions are signed for."""
        return self.preset.chain_id

    @property
    def records(self) -> int:
        """Records in the data set."""
        return sum(p.records for p in self.planned)

    @property
    def grants_count(self) -> int:
        """Grants in the data set."""
        return sum(p.bank is not None for p in self.planned)

    def cities(self) -> list[str]:
        """The preset's cities (each has one bureau and one bank)."""
        return [city.value for city in self.preset.cities]

    def enterprise_key(self, planned: PlannedEnterprise) -> Any:
        """The development key of a data-set enterprise."""
        return derive_private_key(enterprise_key_seed(self.seed, planned.code.code))

    def _signer(self, label: str) -> TransactionSigner:
        return TransactionSigner(self.preset.key(label), self.chain_id, gas=BATCH_GAS)

    def registrations(self, city: str, first_nonce: int) -> Iterator[Submission]:
        """The city's bureau registers every key of its city's enterprises."""
        label = f"bureau:{city}"
        signer = self._signer(label)
        mine = [p for p in self.planned if p.code.city.value == city]
        for nonce, chunk in enumerate(_chunks(mine), start=first_nonce):
            items = [(p.code, self.enterprise_key(p).address) for p in chunk]
            raw = build_register_enterprise_batch(signer, nonce, self.contracts.authorization,
                                                  items)
            yield Submission(label, city, nonce, raw, len(items))

    def grants(self, city: str, first_nonce: int) -> Iterator[Submission]:
        """The city's bank submits the consents of the enterprises that authorize it."""
        label = f"bank:{city}"
        signer = self._signer(label)
        querier = signer.address
        mine = [p for p in self.planned if p.bank == label]
        for nonce, chunk in enumerate(_chunks(mine), start=first_nonce):
            consents = [sign_consent(self.enterprise_key(p), self.chain_id,
                                     self.contracts.authorization, p.code, querier,
                                     ALL_KINDS_SCOPE, GRANT_EXPIRES_AT_S, 0) for p in chunk]
            raw = build_grant_batch(signer, nonce, self.contracts.authorization, consents)
            yield Submission(label, city, nonce, raw, len(consents))

    def publishes(self, city: str, first_nonce: int) -> Iterator[Submission]:
        """The city's bureau publishes every record of its city's enterprises, 64 a batch."""
        label = f"bureau:{city}"
        signer = self._signer(label)
        random_source = random.Random(f"{self.seed}:{city}")
        nonce = first_nonce
        records: list[CreditRecord] = []
        for planned in self.planned:
            if planned.code.city.value != city:
                continue
            for number in range(planned.records):
                records.append(record_of(planned.code, number, random_source))
                if len(records) == BATCH_ITEMS:
                    yield self._publish(signer, label, city, nonce, records)
                    nonce += 1
                    records = []
        if records:
            yield self._publish(signer, label, city, nonce, records)

    def _publish(self, signer: TransactionSigner, label: str, city: str, nonce: int,
                 records: list[CreditRecord]) -> Submission:
        signed = build_publish_batch(signer, nonce, self.contracts.registry, records)
        return Submission(label, city, nonce, signed.raw, len(records), signed.payloads)

    def registration_count(self, city: str) -> int:
        """Registration transactions of a city's bureau (its publishes come after them)."""
        mine = sum(1 for p in self.planned if p.code.city.value == city)
        return -(-mine // BATCH_ITEMS)


def make_plan(preset: Preset, contracts: ContractAddresses, size: DatasetSize,
              seed: int) -> DatasetPlan:
    """The data set of (preset, size, seed) on the chain whose system contracts are given."""
    return DatasetPlan(preset, contracts, tuple(plan_enterprises(preset, size, seed)), seed)
