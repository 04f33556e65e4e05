"""The workload model: credit bureaus, banks and enterprises of each city, and their traffic.

Each city has a credit bureau (publisher) and a commercial bank (querier) from the preset, and
`enterprises_per_city` enterprises with valid Unified Social Credit Codes of that city (the
first three are registered at genesis, the bureau registers the rest on chain at the start).
Transactions are really signed (secp256k1, built by `chain.builder`) and really checked by the
nodes:

- publish: a bureau publishes a record of one of the report's categories for a local enterprise;
  the payload stays at the city's nodes, its keccak hash goes on chain;
- grant: an enterprise signs an EIP-712 grant for a bank (often of another city), the bank
  submits it; one grant per enterprise is in flight at a time, so grant nonces stay in order;
- correct: a bureau publishes a new version of one of its records;
- dispute: a bank disputes a record; the publishing bureau answers it half a second after the
  dispute is on chain.

Rates follow a day profile (hourly multipliers) and bursts; arrivals are a Poisson process made
by thinning, drawn from the kernel's random source. The model also remembers what it expects on
chain (registrations, grants, records), which the query path and the invariants use.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from chain import builder
from chain.cities import City
from chain.crypto import PrivateKey, keccak
from chain.enterprise import EnterpriseId, make_credit_code
from chain.genesis import Genesis
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from contracts import bindings
from simulator.scenario import WorkloadSpec

ENTERPRISES_AT_GENESIS = 3
"""Enterprises per city the presets register at genesis."""

SECONDS_PER_HOUR = 3_600
GRANT_LIFETIME_S = 10 * 365 * 86_400
"""Grants last ten years of chain time: the simulated weeks never see one expire."""

DELAY_MS_DISPUTE_RESPONSE = 500
"""How long a bureau takes to answer a dispute once it is on chain."""

SIZE_MAX_FIELDS = 4

COUNT_RECENT_RECORDS = 256
"""Corrections and disputes pick among the most recent committed records."""

COUNT_RECORD_PICKS = 8
"""Tries to find a record that is free for a correction or dispute."""
"""Fields in a generated record payload."""


@dataclass(slots=True)
class Account:
    """An institution's signing account and its next nonce."""

    label: str
    key: PrivateKey
    city: City
    nonce: int = 0


@dataclass(slots=True)
class EnterpriseState:
    """What the workload knows of one enterprise."""

    label: str
    code: EnterpriseId
    city: City
    key: PrivateKey
    registered: bool
    grant_nonce: int = 0
    grant_in_flight: bool = False
    granted: set[str] = field(default_factory=set)
    records: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class RecordState:
    """A record the workload published (or is publishing)."""

    record_id: bytes
    enterprise: str
    city: City
    publisher: str
    payload_hash: bytes
    committed: bool = False
    busy: bool = False
    """A correction or dispute of it is in flight."""


@dataclass(slots=True)
class SubmittedTransaction:
    """A signed transaction a client sent, until it commits."""

    transaction_hash: bytes
    raw: bytes
    account: str
    city: City
    kind: str
    first_sent_ms: float
    last_sent_ms: float
    payload: bytes = b""
    subject: str = ""
    """The enterprise code, record id (hex) or dispute id (hex) it concerns."""
    detail: str = ""


class Workload:
    """Generates signed transactions and remembers their expected effects."""

    def __init__(self, spec: WorkloadSpec, genesis: Genesis, rng: random.Random) -> None:
        self.spec = spec
        self.genesis = genesis
        self.preset = genesis.preset
        self.random = rng
        self.cities = self.preset.cities
        self.accounts: dict[str, Account] = {}
        for city in self.cities:
            for role in ("bureau", "bank"):
                label = f"{role}:{city.value}"
                self.accounts[label] = Account(label, self.preset.key(label), city)
        self.accounts["regulator"] = Account("regulator", self.preset.key("regulator"),
                                             City.SHANGHAI)
        self.enterprises: dict[str, EnterpriseState] = {}
        self.by_city: dict[City, list[str]] = {c: [] for c in self.cities}
        for city in self.cities:
            for index in range(1, spec.enterprises_per_city + 1):
                label = f"enterprise:{city.value}:{index}"
                code = make_credit_code(city, city.number * 1000 + index)
                self.enterprises[code.code] = EnterpriseState(
                    label, code, city, self.preset.key(label), index <= ENTERPRISES_AT_GENESIS)
                self.by_city[city].append(code.code)
        self.records: dict[bytes, RecordState] = {}
        self.recent_records: list[bytes] = []
        self.disputes: dict[bytes, bytes] = {}
        self.pending: dict[bytes, SubmittedTransaction] = {}
        self._serial = 0

    # --- rates -------------------------------------------------------------------------------

    def multiplier(self, t_ms: float, traffic: str, city: City | None = None) -> float:
        """Day-profile times burst multiplier at virtual time t for one kind of traffic."""
        spec = self.spec
        day_s = spec.day_length_s
        hour = (spec.start_hour + (t_ms / 1000) * 86_400 / day_s / SECONDS_PER_HOUR) % 24
        value = spec.day_profile[int(hour)] / max(spec.day_profile[int(spec.start_hour) % 24],
                                                    1e-9)
        for burst in spec.bursts:
            if (burst.at_s * 1000 <= t_ms < (burst.at_s + burst.duration_s) * 1000
                    and burst.traffic in ("all", traffic)
                    and (burst.city is None or city is None or burst.city == city.value)):
                value *= burst.multiplier
        return value

    def peak_multiplier(self, traffic: str) -> float:
        """An upper bound of `multiplier` over the run (for thinning)."""
        profile = max(self.spec.day_profile) / max(
            self.spec.day_profile[int(self.spec.start_hour) % 24], 1e-9)
        bursts = 1.0
        for burst in self.spec.bursts:
            if burst.traffic in ("all", traffic):
                bursts *= max(burst.multiplier, 1.0)
        return profile * bursts

    # --- transactions ------------------------------------------------------------------------

    def setup_transactions(self, now_ms: float) -> list[SubmittedTransaction]:
        """Bureaus register the enterprises that genesis did not."""
        found = []
        for state in self.enterprises.values():
            if not state.registered:
                bureau = self.accounts[f"bureau:{state.city.value}"]
                raw = builder.build_register_enterprise(
                    self._signer(bureau), bureau.nonce, self.genesis.contracts.authorization,
                    state.code, state.key.address)
                found.append(self._submit(bureau, raw, "register", now_ms,
                                          subject=state.code.code))
        return found

    def next_transaction(self, now_ms: float, city: City) -> SubmittedTransaction | None:
        """A new transaction by a client of `city`, of a kind drawn from the shares."""
        spec = self.spec
        kinds = ("publish", "grant", "correct", "dispute")
        weights = (spec.publish_share, spec.grant_share, spec.correct_share, spec.dispute_share)
        kind = self.random.choices(kinds, weights)[0]
        made = None
        if kind == "grant":
            made = self._grant(city, now_ms)
        elif kind == "correct":
            made = self._correct(city, now_ms)
        elif kind == "dispute":
            made = self._dispute(city, now_ms)
        return made if made is not None else self._publish(city, now_ms)

    def _record(self, code: EnterpriseId) -> CreditRecord:
        kind = RecordKind(self.random.randrange(len(RecordKind)))
        self._serial += 1
        fields: dict[str, str | int | bool] = {"serial": self._serial}
        for index in range(self.random.randrange(1, SIZE_MAX_FIELDS)):
            fields[f"value_{index}"] = self.random.randrange(1_000_000)
        period = f"{2020 + self.random.randrange(5)}"
        return CreditRecord(code, kind, period, fields)

    def _publish(self, city: City, now_ms: float) -> SubmittedTransaction:
        bureau = self.accounts[f"bureau:{city.value}"]
        state = self.enterprises[self.random.choice(self.by_city[city])]
        signed = builder.build_publish(self._signer(bureau), bureau.nonce,
                                       self.genesis.contracts.registry, self._record(state.code))
        self.records[signed.record_id] = RecordState(signed.record_id, state.code.code, city,
                                                     bureau.label, signed.payload_hash)
        return self._submit(bureau, signed.raw, "publish", now_ms, payload=signed.payload,
                            subject=signed.record_id.hex())

    def _grant(self, city: City, now_ms: float) -> SubmittedTransaction | None:
        bank = self.accounts[f"bank:{city.value}"]
        code = self.pick_enterprise(city, lambda s: (s.registered and not s.grant_in_flight
                                                     and bank.label not in s.granted))
        if code is None:
            return None
        state = self.enterprises[code]
        expires = self.preset.genesis_timestamp_ms // 1000 + GRANT_LIFETIME_S
        authorization = self.genesis.contracts.authorization
        consent = builder.sign_consent(state.key, self.preset.chain_id, authorization,
                                       state.code, bank.key.address, ALL_KINDS_SCOPE, expires,
                                       state.grant_nonce)
        raw = builder.build_grant(self._signer(bank, dynamic_fee=True), bank.nonce,
                                  authorization, consent)
        state.grant_in_flight = True
        return self._submit(bank, raw, "grant", now_ms, subject=code)

    def _correct(self, city: City, now_ms: float) -> SubmittedTransaction | None:
        bureau = self.accounts[f"bureau:{city.value}"]
        old = self._pick_record(lambda r: r.publisher == bureau.label)
        if old is None:
            return None
        signed = builder.build_correct(self._signer(bureau), bureau.nonce,
                                       self.genesis.contracts.registry, old.record_id,
                                       self._record(self.enterprises[old.enterprise].code))
        old.busy = True
        self.records[signed.record_id] = RecordState(signed.record_id, old.enterprise, city,
                                                     bureau.label, signed.payload_hash)
        return self._submit(bureau, signed.raw, "correct", now_ms, payload=signed.payload,
                            subject=signed.record_id.hex(), detail=old.record_id.hex())

    def _dispute(self, city: City, now_ms: float) -> SubmittedTransaction | None:
        bank = self.accounts[f"bank:{city.value}"]
        record = self._pick_record(lambda r: True)
        if record is None:
            return None
        self._serial += 1
        dispute_id = keccak(b"dispute" + self._serial.to_bytes(8, "big"))
        record.busy = True
        self.disputes[dispute_id] = record.record_id
        signed = builder.build_open_dispute(self._signer(bank), bank.nonce,
                                            self.genesis.contracts.registry, record.record_id,
                                            keccak(b"reason" + dispute_id), dispute_id)
        return self._submit(bank, signed.raw, "dispute", now_ms, subject=dispute_id.hex(),
                            detail=record.record_id.hex())

    def response_to(self, dispute_id: bytes, now_ms: float) -> SubmittedTransaction | None:
        """The publishing bureau's answer to a dispute that reached the chain."""
        record_id = self.disputes.get(dispute_id)
        if record_id is None:
            return None
        record = self.records[record_id]
        bureau = self.accounts[record.publisher]
        raw = builder.build_respond(self._signer(bureau), bureau.nonce,
                                    self.genesis.contracts.registry, dispute_id,
                                    keccak(b"response" + dispute_id))
        return self._submit(bureau, raw, "respond", now_ms, subject=dispute_id.hex())

    def anchor_transaction(self, node_id: str, batch: int, root: bytes, count: int,
                           now_ms: float) -> SubmittedTransaction:
        """A node operator anchors its next audit batch."""
        label = f"node:{node_id}"
        account = self.accounts.get(label)
        if account is None:
            account = self.accounts[label] = Account(label, self.preset.key(label),
                                                     self.preset.node(node_id).city)
        data = bindings.encode_anchor_audit(audit_node_key(node_id), batch, root, count)
        raw = self._signer(account).sign(account.nonce, self.genesis.contracts.authorization,
                                         data)
        return self._submit(account, raw, "anchor", now_ms, subject=node_id)

    def _signer(self, account: Account, dynamic_fee: bool = False) -> builder.TransactionSigner:
        return builder.TransactionSigner(account.key, self.preset.chain_id,
                                         dynamic_fee=dynamic_fee)

    def _submit(self, account: Account, raw: bytes, kind: str, now_ms: float,
                payload: bytes = b"", subject: str = "",
                detail: str = "") -> SubmittedTransaction:
        """Count the account's nonce and remember the signed transaction as pending."""
        account.nonce += 1
        submitted = SubmittedTransaction(keccak(raw), raw, account.label, account.city, kind,
                                         now_ms, now_ms, payload, subject, detail)
        self.pending[submitted.transaction_hash] = submitted
        return submitted

    # --- choices -----------------------------------------------------------------------------

    def pick_enterprise(self, city: City,
                        usable: Callable[[EnterpriseState], bool]) -> str | None:
        """An enterprise for a client of `city`: another city's with cross_region_share."""
        check = usable
        cross = self.random.random() < self.spec.cross_region_share and len(self.cities) > 1
        pool = [c for c in self.cities if (c != city) == cross] or list(self.cities)
        candidates = [code for c in pool for code in self.by_city[c]
                      if check(self.enterprises[code])]
        return self.random.choice(candidates) if candidates else None

    def _pick_record(self, check: Callable[[RecordState], bool]) -> RecordState | None:
        for _ in range(COUNT_RECORD_PICKS):
            if not self.recent_records:
                return None
            record_id = self.random.choice(self.recent_records[-COUNT_RECENT_RECORDS:])
            record = self.records[record_id]
            if record.committed and not record.busy and check(record):
                return record
        return None

    # --- effects -----------------------------------------------------------------------------

    def on_committed(self, submitted: SubmittedTransaction, success: bool) -> None:
        """Update the model when one of its transactions commits (success: receipt status 1)."""
        kind = submitted.kind
        if kind == "register" and success:
            self.enterprises[submitted.subject].registered = True
        elif kind == "grant":
            state = self.enterprises[submitted.subject]
            state.grant_in_flight = False
            if success:
                state.grant_nonce += 1
                state.granted.add(submitted.account)
        elif kind in ("publish", "correct"):
            record = self.records.get(bytes.fromhex(submitted.subject))
            if record is not None and success:
                record.committed = True
                self.recent_records.append(record.record_id)
                self.enterprises[record.enterprise].records.append(record.record_id)
            if kind == "correct" and not success:
                old = self.records.get(bytes.fromhex(submitted.detail))
                if old is not None:
                    old.busy = False
        elif kind == "dispute" and not success:
            self.disputes.pop(bytes.fromhex(submitted.subject), None)


def audit_node_key(node_id: str) -> bytes:
    """The bytes32 a node's audit anchors are filed under: keccak of its node id."""
    return keccak(b"yrdchain-audit:" + node_id.encode())
