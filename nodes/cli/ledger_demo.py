"""The single-process ledger demo: genesis, publishes from several cities, consent, a query.

It runs the real core — signed transactions, py-evm execution, blocks with state roots — on one
in-process ledger (no network), and prints what happened step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chain import builder
from chain.cities import city_by_number
from chain.crypto import PrivateKey
from chain.genesis import Genesis, build_genesis
from chain.ledger import CommittedBlock, Ledger
from chain.presets import Preset, get_preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from chain.storage import MemoryBlockStore
from contracts import bindings

Printer = Callable[[str], None]
ONE_YEAR_S = 365 * 24 * 3600


@dataclass
class _Session:
    preset: Preset
    genesis: Genesis
    ledger: Ledger
    say: Printer
    clock_ms: int
    nonces: dict[bytes, int]

    def signer(self, key: PrivateKey, dynamic_fee: bool = False) -> builder.TransactionSigner:
        return builder.TransactionSigner(key, self.preset.chain_id, dynamic_fee=dynamic_fee)

    def next_nonce(self, key: PrivateKey) -> int:
        nonce = self.nonces.get(key.address, 0)
        self.nonces[key.address] = nonce + 1
        return nonce

    def send(self, raw: bytes) -> None:
        self.ledger.admit(raw)

    def commit(self, proposer: str) -> CommittedBlock:
        self.clock_ms += 2_000
        block = self.ledger.build_block(self.clock_ms, proposer)
        committed = self.ledger.append_block(block)
        self.say(f"  block {block.height} by {proposer}: {len(block.transactions)} tx, "
                 f"state root 0x{block.header.state_root.hex()[:16]}…, "
                 f"hash 0x{block.hash.hex()[:16]}…")
        for receipt in committed.receipts:
            if receipt.status != 1:
                self.say(f"    reverted: {receipt.revert_reason}")
        return committed


def run_ledger_demo(preset_name: str = "yrd-2021", say: Printer = print) -> Ledger:
    """Run the demo and return the ledger it built."""
    preset = get_preset(preset_name)
    genesis = build_genesis(preset)
    ledger = Ledger(MemoryBlockStore(), genesis)
    session = _Session(preset, genesis, ledger, say, preset.genesis_timestamp_ms, {})
    say(f"yrdchain ledger demo — preset {preset.name}: {len(preset.nodes)} validator nodes in "
        f"{len(preset.cities)} cities, chain id {preset.chain_id}")
    say(f"  genesis 0x{genesis.block.hash.hex()[:16]}…, state root "
        f"0x{genesis.block.header.state_root.hex()[:16]}…, {len(ledger.members)} members")

    say("1. Bureaus of three cities publish records (hash on chain, payload off chain)")
    published: dict[str, bytes] = {}
    for city, label, kind, fields in (
        ("shanghai", "enterprise:shanghai:1", RecordKind.TAX, {"paid_cny": 1_280_000,
                                                                "grade": "A"}),
        ("nanjing", "enterprise:nanjing:1", RecordKind.LOAN, {"balance_cny": 5_000_000,
                                                               "overdue_days": 0}),
        ("hangzhou", "enterprise:hangzhou:1", RecordKind.UTILITIES, {"arrears": False}),
    ):
        enterprise = preset.enterprise(label)
        record = CreditRecord(enterprise.credit_code, kind, "2024", fields)
        bureau = preset.key(f"bureau:{city}")
        signed = builder.build_publish(session.signer(bureau), session.next_nonce(bureau),
                                       genesis.contracts.registry, record)
        published[label] = signed.record_id
        session.send(signed.raw)
        say(f"  {preset.institution(f'bureau:{city}').name} publishes {kind.label} of "
            f"{enterprise.name} ({enterprise.credit_code})")
    session.commit(preset.nodes[0].node_id)

    say("2. A Hangzhou bank asks for a Shanghai enterprise's records without consent")
    enterprise = preset.enterprise("enterprise:shanghai:1")
    bank = preset.key("bank:hangzhou")
    code = enterprise.credit_code.to_bytes32()
    authorized = bindings.decode_bool(ledger.call(
        genesis.contracts.authorization,
        bindings.encode_is_authorized(code, bank.address, int(RecordKind.TAX))).output)
    say(f"  authorized: {authorized} — the node refuses the query")

    say("3. The enterprise signs a grant (EIP-712); the bank submits it")
    expires_at = session.clock_ms // 1000 + ONE_YEAR_S
    consent = builder.sign_consent(preset.key(enterprise.label), preset.chain_id,
                                   genesis.contracts.authorization, enterprise.credit_code,
                                   bank.address, ALL_KINDS_SCOPE, expires_at, 0)
    session.send(builder.build_grant(session.signer(bank, dynamic_fee=True),
                                     session.next_nonce(bank), genesis.contracts.authorization,
                                     consent))
    session.commit(preset.nodes[1].node_id)
    authorized = bindings.decode_bool(ledger.call(
        genesis.contracts.authorization,
        bindings.encode_is_authorized(code, bank.address, int(RecordKind.TAX)),
        timestamp_ms=session.clock_ms).output)
    say(f"  authorized: {authorized}")

    say("4. The query: the enterprise's records from the index, with provenance")
    for entry in ledger.records_of(enterprise.credit_code.code):
        say(f"  record 0x{entry.record_id.hex()[:12]}… {RecordKind(entry.kind).label} "
            f"v{entry.version} from {_city_name(entry.origin_city)} at block {entry.height}, "
            f"payload hash 0x{entry.payload_hash.hex()[:12]}…")

    say("5. The Shanghai bureau corrects the record: a new version linked to the old")
    corrected = CreditRecord(enterprise.credit_code, RecordKind.TAX, "2024",
                             {"paid_cny": 1_320_000, "grade": "A"})
    bureau = preset.key("bureau:shanghai")
    correction = builder.build_correct(session.signer(bureau), session.next_nonce(bureau),
                                       genesis.contracts.registry,
                                       published["enterprise:shanghai:1"], corrected, salt=1)
    new_id = correction.record_id
    session.send(correction.raw)
    session.commit(preset.nodes[2].node_id)
    for entry in ledger.record_versions(new_id):
        status = bindings.RecordStatus(entry.status).name.lower()
        say(f"  v{entry.version} 0x{entry.record_id.hex()[:12]}… {status}")

    say(f"Head: height {ledger.head.height}, state root 0x{ledger.head.state_root.hex()}")
    return ledger


def _city_name(number: int) -> str:
    city = city_by_number(number)
    return city.title if city else f"city #{number}"
