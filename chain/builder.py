"""One recipe for signed domain transactions: record -> hash -> id -> calldata -> signature.

Every sender of the project — the institution client, the dashboard's burst, the ledger demo,
the simulator's workload, the benchmarks and the command line — builds its transactions here.
Keys, nonces and contract addresses come in as values: nothing here asks a node or a clock, so
the same inputs give the same bytes.

A `TransactionSigner` says who signs and in which form (EIP-155 legacy or EIP-1559); the
`build_*` functions return the raw transaction together with what the caller needs to keep
(the record id and payload hash of a publish, the dispute id of a dispute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.crypto import Address, PrivateKey, keccak
from chain.enterprise import EnterpriseId
from chain.records import CreditRecord, encode_record, payload_hash, record_id_for
from chain.wallet import (
    DEFAULT_GAS,
    EnterpriseSignature,
    sign_digest,
    sign_dynamic_fee,
    sign_legacy,
)
from contracts import bindings

DISPUTE_ID_DOMAIN = b"dispute"  # prefix of a dispute id's preimage, apart from record ids


@dataclass(frozen=True, slots=True)
class TransactionSigner:
    """Who signs transactions, for which chain, in which form, with how much gas."""

    key: PrivateKey
    chain_id: int
    dynamic_fee: bool = False  # EIP-1559 (type 2) when true, EIP-155 legacy otherwise
    gas: int = DEFAULT_GAS
    gas_price: int = 0  # legacy gas price, or max fee per gas for type 2

    @property
    def address(self) -> Address:
        """The sending account."""
        return self.key.address

    def sign(self, nonce: int, to: Address, data: bytes) -> bytes:
        """A signed transaction calling `to` with `data` at `nonce`."""
        if self.dynamic_fee:
            return sign_dynamic_fee(self.key, self.chain_id, nonce, to, data, gas=self.gas,
                                    max_fee_per_gas=self.gas_price)
        return sign_legacy(self.key, self.chain_id, nonce, to, data, gas=self.gas,
                           gas_price=self.gas_price)


@dataclass(frozen=True, slots=True)
class SignedPublish:
    """A signed publish (or correction) and the record it puts on chain."""

    raw: bytes
    record_id: bytes
    payload_hash: bytes
    payload: bytes  # the record's canonical bytes; their keccak is `payload_hash`

    @property
    def transaction_hash(self) -> bytes:
        """The transaction's hash (keccak of the raw bytes)."""
        return keccak(self.raw)


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """A signed `publish_batch` and its items, in order."""

    raw: bytes
    items: tuple[bindings.PublishItem, ...]
    payloads: tuple[bytes, ...] = ()  # each record's canonical bytes, in the items' order


@dataclass(frozen=True, slots=True)
class SignedDispute:
    """A signed `open_dispute` and the dispute id it opens."""

    raw: bytes
    dispute_id: bytes


@dataclass(frozen=True, slots=True)
class Consent:
    """An enterprise's signed grant to one querier, ready for the querier to submit."""

    enterprise: EnterpriseId
    querier: Address
    scope: int
    expires_at_s: int
    grant_nonce: int
    signature: EnterpriseSignature


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An enterprise's signed revocation of its grant to one querier."""

    enterprise: EnterpriseId
    querier: Address
    grant_nonce: int
    signature: EnterpriseSignature


def publish_item(publisher: Address, record: CreditRecord, salt: int = 0) -> tuple[
        bindings.PublishItem, bytes]:
    """The on-chain item of a record published by `publisher`, and the record's payload bytes."""
    payload = encode_record(record)
    digest = payload_hash(payload)
    item = bindings.PublishItem(record_id_for(publisher, digest, salt),
                                record.enterprise.to_bytes32(), int(record.kind), digest)
    return item, payload


def build_publish(signer: TransactionSigner, nonce: int, registry: Address,
                  record: CreditRecord, salt: int = 0) -> SignedPublish:
    """`CreditRegistry.publish` of one record: its hash on chain, its id derived from `salt`."""
    item, payload = publish_item(signer.address, record, salt)
    raw = signer.sign(nonce, registry, bindings.encode_publish(
        item.record_id, item.enterprise, item.kind, item.payload_hash))
    return SignedPublish(raw, item.record_id, item.payload_hash, payload)


def build_correct(signer: TransactionSigner, nonce: int, registry: Address,
                  old_record_id: bytes, record: CreditRecord, salt: int = 1) -> SignedPublish:
    """`CreditRegistry.correct`: a new version of one of the signer's records."""
    item, payload = publish_item(signer.address, record, salt)
    raw = signer.sign(nonce, registry, bindings.encode_correct(old_record_id, item.record_id,
                                                               item.payload_hash))
    return SignedPublish(raw, item.record_id, item.payload_hash, payload)


def build_publish_batch(signer: TransactionSigner, nonce: int, registry: Address,
                        records: Sequence[CreditRecord]) -> SignedBatch:
    """`CreditRegistry.publish_batch` of several records (salt 0 each)."""
    pairs = [publish_item(signer.address, record) for record in records]
    items = tuple(item for item, _ in pairs)
    return SignedBatch(signer.sign(nonce, registry, bindings.encode_publish_batch(items)), items,
                       tuple(payload for _, payload in pairs))


def sign_consent(enterprise_key: PrivateKey, chain_id: int, authorization: Address,
                 enterprise: EnterpriseId, querier: Address, scope: int, expires_at_s: int,
                 grant_nonce: int) -> Consent:
    """The enterprise's EIP-712 grant to `querier` for the record kinds in `scope`."""
    digest = bindings.grant_digest(chain_id, authorization, enterprise.to_bytes32(), querier,
                                   scope, expires_at_s, grant_nonce)
    return Consent(enterprise, querier, scope, expires_at_s, grant_nonce,
                   sign_digest(enterprise_key, digest))


def sign_withdrawal(enterprise_key: PrivateKey, chain_id: int, authorization: Address,
                    enterprise: EnterpriseId, querier: Address, grant_nonce: int) -> Withdrawal:
    """The enterprise's EIP-712 revocation of its grant to `querier`."""
    digest = bindings.revocation_digest(chain_id, authorization, enterprise.to_bytes32(),
                                        querier, grant_nonce)
    return Withdrawal(enterprise, querier, grant_nonce, sign_digest(enterprise_key, digest))


def build_grant(signer: TransactionSigner, nonce: int, authorization: Address,
                consent: Consent) -> bytes:
    """`Authorization.grant`: the querier submits the enterprise's consent."""
    signature = consent.signature
    return signer.sign(nonce, authorization, bindings.encode_grant(
        consent.enterprise.to_bytes32(), consent.scope, consent.expires_at_s,
        consent.grant_nonce, signature.v, signature.r, signature.s))


def build_revoke_grant(signer: TransactionSigner, nonce: int, authorization: Address,
                       withdrawal: Withdrawal) -> bytes:
    """`Authorization.revoke_grant`: anyone submits the enterprise's signed revocation."""
    signature = withdrawal.signature
    return signer.sign(nonce, authorization, bindings.encode_revoke_grant(
        withdrawal.enterprise.to_bytes32(), withdrawal.querier, withdrawal.grant_nonce,
        signature.v, signature.r, signature.s))


def build_register_enterprise(signer: TransactionSigner, nonce: int, authorization: Address,
                              enterprise: EnterpriseId, enterprise_account: Address) -> bytes:
    """`Authorization.register_enterprise`: the account whose signatures speak for it."""
    return signer.sign(nonce, authorization, bindings.encode_register_enterprise(
        enterprise.to_bytes32(), enterprise_account))


def build_register_enterprise_batch(signer: TransactionSigner, nonce: int,
                                    authorization: Address,
                                    items: Sequence[tuple[EnterpriseId, Address]]) -> bytes:
    """`Authorization.register_enterprise_batch`: up to 64 enterprises' accounts at once."""
    return signer.sign(nonce, authorization, bindings.encode_register_enterprise_batch(
        [(enterprise.to_bytes32(), account) for enterprise, account in items]))


def build_grant_batch(signer: TransactionSigner, nonce: int, authorization: Address,
                      consents: Sequence[Consent]) -> bytes:
    """`Authorization.grant_batch`: the querier submits up to 64 enterprises' consents to it."""
    return signer.sign(nonce, authorization, bindings.encode_grant_batch([
        bindings.GrantItem(consent.enterprise.to_bytes32(), consent.scope, consent.expires_at_s,
                           consent.grant_nonce, consent.signature.v, consent.signature.r,
                           consent.signature.s)
        for consent in consents]))


def dispute_id_for(opener: Address, record_id: bytes, reason_hash: bytes) -> bytes:
    """A dispute's id, derived from who opens it, on which record, for which reason."""
    return keccak(DISPUTE_ID_DOMAIN + opener + record_id + reason_hash)


def build_open_dispute(signer: TransactionSigner, nonce: int, registry: Address,
                       record_id: bytes, reason_hash: bytes,
                       dispute_id: bytes | None = None) -> SignedDispute:
    """`CreditRegistry.open_dispute` on a record; the id is derived unless given."""
    chosen = dispute_id if dispute_id is not None else dispute_id_for(
        signer.address, record_id, reason_hash)
    return SignedDispute(signer.sign(nonce, registry, bindings.encode_open_dispute(
        chosen, record_id, reason_hash)), chosen)


def build_respond(signer: TransactionSigner, nonce: int, registry: Address, dispute_id: bytes,
                  response_hash: bytes) -> bytes:
    """`CreditRegistry.respond`: the record's publisher answers a dispute."""
    return signer.sign(nonce, registry, bindings.encode_respond(dispute_id, response_hash))


def build_resolve(signer: TransactionSigner, nonce: int, registry: Address, dispute_id: bytes,
                  upheld: bool) -> bytes:
    """`CreditRegistry.resolve`: a regulator decides a dispute."""
    return signer.sign(nonce, registry, bindings.encode_resolve(dispute_id, upheld))
