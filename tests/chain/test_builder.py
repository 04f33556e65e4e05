"""The one transaction builder: the bytes it signs, and that a ledger accepts what it builds."""

from __future__ import annotations

from chain import builder
from chain.crypto import PrivateKey, keccak
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind, encode_record, record_id_for
from chain.transactions import DYNAMIC_FEE_TYPE, decode_transaction, recover_sender
from contracts import bindings
from tests.chain.ledger_helpers import YEAR_S, is_authorized, next_block


def tax_record(genesis: Genesis, index: int = 0, paid_cny: int = 1_000) -> CreditRecord:
    enterprise = genesis.preset.enterprises[index].credit_code
    return CreditRecord(enterprise, RecordKind.TAX, "2024", {"paid_cny": paid_cny})


def admit_and_commit(ledger: Ledger, raw: bytes) -> int:
    ledger.admit(raw)
    [receipt] = next_block(ledger).receipts
    assert receipt.status == 1, receipt.revert_reason
    return receipt.status


def test_publish_signs_the_record_hash_and_derived_id(genesis: Genesis) -> None:
    key = genesis.preset.key("bureau:shanghai")
    record = tax_record(genesis)
    signer = builder.TransactionSigner(key, genesis.chain_id)
    signed = builder.build_publish(signer, 7, genesis.contracts.registry, record, salt=3)
    assert signed.payload == encode_record(record)
    assert signed.payload_hash == keccak(signed.payload)
    assert signed.record_id == record_id_for(key.address, signed.payload_hash, 3)
    transaction = decode_transaction(signed.raw, genesis.chain_id)
    assert transaction.hash == signed.transaction_hash
    assert (transaction.nonce, transaction.to) == (7, genesis.contracts.registry)
    assert transaction.data == bindings.encode_publish(
        signed.record_id, record.enterprise.to_bytes32(), int(RecordKind.TAX),
        signed.payload_hash)
    assert recover_sender(transaction) == key.address


def test_signer_forms_and_gas(genesis: Genesis) -> None:
    key = genesis.preset.key("bank:hangzhou")
    legacy = decode_transaction(builder.TransactionSigner(key, genesis.chain_id, gas=90_000,
                                                          gas_price=5).sign(0, b"\x01" * 20,
                                                                            b"\xab"),
                                genesis.chain_id)
    dynamic = decode_transaction(builder.TransactionSigner(key, genesis.chain_id,
                                                           dynamic_fee=True).sign(1, b"\x01" * 20,
                                                                                  b"\xab"),
                                 genesis.chain_id)
    assert (legacy.type, legacy.gas, legacy.gas_price) == (0, 90_000, 5)
    assert dynamic.type == DYNAMIC_FEE_TYPE
    assert recover_sender(legacy) == recover_sender(dynamic) == key.address


def test_batch_items_match_single_publishes(genesis: Genesis) -> None:
    key = genesis.preset.key("bureau:shanghai")
    signer = builder.TransactionSigner(key, genesis.chain_id)
    records = [tax_record(genesis, paid_cny=amount) for amount in (1, 2, 3)]
    batch = builder.build_publish_batch(signer, 0, genesis.contracts.registry, records)
    singles = [builder.build_publish(signer, 0, genesis.contracts.registry, record)
               for record in records]
    assert [item.record_id for item in batch.items] == [single.record_id for single in singles]
    assert decode_transaction(batch.raw, genesis.chain_id).data == \
        bindings.encode_publish_batch(batch.items)


def test_a_ledger_accepts_the_whole_life_cycle(ledger: Ledger, genesis: Genesis) -> None:
    """Publish, consent, correct, revoke consent, dispute, respond, resolve: all commit."""
    preset, contracts = genesis.preset, genesis.contracts
    bureau = builder.TransactionSigner(preset.key("bureau:shanghai"), genesis.chain_id)
    bank_key = preset.key("bank:hangzhou")
    bank = builder.TransactionSigner(bank_key, genesis.chain_id, dynamic_fee=True)
    regulator = builder.TransactionSigner(preset.key("regulator"), genesis.chain_id)
    enterprise = preset.enterprises[0]
    enterprise_key: PrivateKey = preset.key(enterprise.label)

    def nonce(signer: builder.TransactionSigner) -> int:
        return ledger.pending_nonce(signer.address)

    published = builder.build_publish(bureau, nonce(bureau), contracts.registry,
                                      tax_record(genesis))
    admit_and_commit(ledger, published.raw)
    assert [entry.record_id for entry in ledger.records_of(enterprise.credit_code.code)] == [
        published.record_id]

    expires = preset.genesis_timestamp_ms // 1000 + YEAR_S
    consent = builder.sign_consent(enterprise_key, genesis.chain_id, contracts.authorization,
                                   enterprise.credit_code, bank_key.address, ALL_KINDS_SCOPE,
                                   expires, 0)
    assert not is_authorized(ledger, 0, bank_key)
    admit_and_commit(ledger, builder.build_grant(bank, nonce(bank), contracts.authorization,
                                                 consent))
    assert is_authorized(ledger, 0, bank_key)

    corrected = builder.build_correct(bureau, nonce(bureau), contracts.registry,
                                      published.record_id, tax_record(genesis, paid_cny=2_000))
    admit_and_commit(ledger, corrected.raw)
    assert [entry.version for entry in ledger.record_versions(corrected.record_id)] == [1, 2]

    withdrawal = builder.sign_withdrawal(enterprise_key, genesis.chain_id,
                                         contracts.authorization, enterprise.credit_code,
                                         bank_key.address, 1)
    admit_and_commit(ledger, builder.build_revoke_grant(bank, nonce(bank),
                                                        contracts.authorization, withdrawal))
    assert not is_authorized(ledger, 0, bank_key)

    dispute = builder.build_open_dispute(bank, nonce(bank), contracts.registry,
                                         corrected.record_id, keccak(b"wrong amount"))
    assert dispute.dispute_id == builder.dispute_id_for(bank_key.address, corrected.record_id,
                                                        keccak(b"wrong amount"))
    admit_and_commit(ledger, dispute.raw)
    admit_and_commit(ledger, builder.build_respond(bureau, nonce(bureau), contracts.registry,
                                                   dispute.dispute_id, keccak(b"checked")))
    admit_and_commit(ledger, builder.build_resolve(regulator, nonce(regulator),
                                                   contracts.registry, dispute.dispute_id,
                                                   upheld=False))
