"""Building signed transactions and blocks for the ledger tests (local4 dev keys)."""

from __future__ import annotations

from dataclasses import dataclass

from chain import builder
from chain.crypto import PrivateKey
from chain.genesis import Genesis
from chain.ledger import CommittedBlock, Ledger
from chain.records import (
    ALL_KINDS_SCOPE,
    CreditRecord,
    RecordKind,
)
from chain.storage import MemoryBlockStore
from chain.wallet import sign_legacy
from contracts import bindings

BLOCK_INTERVAL_MS = 1_000
YEAR_S = 365 * 86_400


@dataclass(frozen=True, slots=True)
class Publication:
    """A signed publish transaction and the record it creates."""

    raw: bytes
    record_id: bytes
    payload_hash: bytes


def publication(genesis: Genesis, key: PrivateKey, nonce: int, enterprise_index: int = 0,
                period: str = "2024", salt: int = 0) -> Publication:
    """A signed CreditRegistry.publish of a tax record of a demo enterprise."""
    enterprise = genesis.preset.enterprises[enterprise_index].credit_code
    record = CreditRecord(enterprise, RecordKind.TAX, period, {"paid_cny": 120_000 + nonce})
    signed = builder.build_publish(builder.TransactionSigner(key, genesis.chain_id), nonce,
                                   genesis.contracts.registry, record, salt)
    return Publication(signed.raw, signed.record_id, signed.payload_hash)


def signed_call(genesis: Genesis, key: PrivateKey, nonce: int, contract: str,
                data: bytes) -> bytes:
    """A signed legacy transaction calling one of the three contracts."""
    return sign_legacy(key, genesis.chain_id, nonce, genesis.contracts.address_of(contract), data)


def grant_call(genesis: Genesis, enterprise_key: PrivateKey, querier: PrivateKey,
               enterprise_index: int, querier_nonce: int, grant_nonce: int = 0,
               expires_at: int | None = None, scope: int = ALL_KINDS_SCOPE) -> bytes:
    """A querier's signed Authorization.grant carrying the enterprise's EIP-712 signature."""
    enterprise = genesis.preset.enterprises[enterprise_index].credit_code
    if expires_at is None:
        expires_at = genesis.preset.genesis_timestamp_ms // 1000 + YEAR_S
    consent = builder.sign_consent(enterprise_key, genesis.chain_id,
                                   genesis.contracts.authorization, enterprise, querier.address,
                                   scope, expires_at, grant_nonce)
    return builder.build_grant(builder.TransactionSigner(querier, genesis.chain_id),
                               querier_nonce, genesis.contracts.authorization, consent)


def next_block(ledger: Ledger, proposer: str = "shanghai-1",
               interval_ms: int = BLOCK_INTERVAL_MS) -> CommittedBlock:
    """Build a block from the mempool one interval after the head and commit it."""
    block = ledger.build_block(ledger.head.timestamp_ms + interval_ms, proposer)
    return ledger.append_block(block)


def fresh_ledger(genesis: Genesis) -> Ledger:
    """A new ledger at genesis."""
    return Ledger(MemoryBlockStore(), genesis)


def store_snapshot(ledger: Ledger) -> tuple[object, ...]:
    """What an append could change: head, mempool, and every part of the store."""
    store = ledger.store
    assert isinstance(store, MemoryBlockStore)
    return (ledger.head, len(ledger.mempool), store.head, dict(store.blocks),
            dict(store.receipts), len(store.state), dict(store.index), dict(ledger.members))


def is_authorized(ledger: Ledger, enterprise_index: int, querier: PrivateKey,
                  kind: RecordKind = RecordKind.TAX) -> bool:
    """Authorization.is_authorized at the head."""
    genesis = ledger.genesis
    enterprise = genesis.preset.enterprises[enterprise_index].credit_code.to_bytes32()
    result = ledger.call(genesis.contracts.authorization,
                         bindings.encode_is_authorized(enterprise, querier.address, int(kind)))
    assert result.success, result.revert_reason
    return bindings.decode_bool(result.output)
