"""Node identity: consortium CA, X.509 node certificates and consensus keys.

The consortium (the regulator's CA) issues each city node an X.509 certificate binding its node
id and city to its Ed25519 consensus public key. A node is admitted as a validator only when its
certificate verifies against the CA at a given moment. Times are passed in as `datetime` values
(naive values are read as UTC); nothing here reads a clock. X.509 work uses `cryptography`;
consensus signatures use PyNaCl (`chain.consensus.signing`).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID
from nacl.signing import SigningKey

from chain.consensus.validators import Validator, ValidatorSet

DOMAIN_NODE_KEY = b"yrdchain/node-signing-key/v1\x00"
"""Prefix hashed with a seed to derive a node's consensus key."""

DOMAIN_CA_KEY = b"yrdchain/consortium-ca-key/v1\x00"
"""Prefix hashed with a seed to derive the consortium CA key."""

CHAIN_ID_DEFAULT = "yrd-credit-chain"
"""Chain id used when a validator set is built from certificates without naming one."""

SIZE_BYTES_MAX_CERTIFICATE = 16 * 1024
"""Largest PEM accepted: node certificates are well under 1 KiB."""


class IdentityError(Exception):
    """Root of the identity errors: a certificate cannot be trusted."""


class MalformedCertificateError(IdentityError):
    """The bytes are not a PEM X.509 certificate of the expected shape."""

    def __init__(self, expected: str, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"malformed certificate: expected {expected}, got {got}")


class UnknownAuthorityError(IdentityError):
    """The certificate was issued by another authority than the consortium CA."""

    def __init__(self, expected_issuer: str, issuer: str) -> None:
        self.expected_issuer = expected_issuer
        self.issuer = issuer
        super().__init__(f"certificate issued by {issuer!r}, expected {expected_issuer!r}")


class CertificateSignatureError(IdentityError):
    """The CA's signature over the certificate does not verify (tampered or forged)."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"CA signature does not verify on certificate for {subject!r}")


class CertificateValidityError(IdentityError):
    """The certificate is not valid at the given moment (expired or not yet valid)."""

    def __init__(
        self,
        subject: str,
        at: datetime.datetime,
        not_before: datetime.datetime,
        not_after: datetime.datetime,
    ) -> None:
        self.subject = subject
        self.at = at
        self.not_before = not_before
        self.not_after = not_after
        super().__init__(
            f"certificate for {subject!r} valid from {not_before.isoformat()} "
            f"to {not_after.isoformat()}, checked at {at.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class ConsortiumCA:
    """The consortium's certificate authority: its name, key seed and self-signed certificate."""

    name: str
    signing_key_seed: bytes
    """Seed the CA's Ed25519 key derives from (keep it secret)."""
    certificate_pem: bytes


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """What a verified node certificate says: who the node is and its consensus key."""

    node_id: str
    city: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class RejectedCertificate:
    """A certificate left out of a validator set, and why."""

    index: int
    """Position in the input sequence."""
    error: IdentityError


@dataclass(frozen=True, slots=True)
class ValidatorAdmission:
    """The outcome of admitting certificates: the validator set and what was dropped."""

    validator_set: ValidatorSet
    rejected: tuple[RejectedCertificate, ...]


class DuplicateNodeError(IdentityError):
    """Two admitted certificates name the same node id or key."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        super().__init__(f"node {node_id!r} (or its key) already admitted")


def derive_node_signing_key(seed: bytes) -> tuple[bytes, bytes]:
    """Deterministic Ed25519 key pair from a seed: (32-byte private seed, 32-byte public key)."""
    private = hashlib.sha256(DOMAIN_NODE_KEY + seed).digest()
    return private, bytes(SigningKey(private).verify_key)


def _ca_private_key(signing_key_seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(DOMAIN_CA_KEY + signing_key_seed).digest()
    )


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def create_consortium_ca(
    name: str,
    signing_key_seed: bytes,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    serial: int,
) -> ConsortiumCA:
    """A self-signed Ed25519 CA certificate named `name`, valid from not_before to not_after."""
    key = _ca_private_key(signing_key_seed)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(_utc(not_before))
        .not_valid_after(_utc(not_after))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, algorithm=None)
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return ConsortiumCA(name, signing_key_seed, pem)


def issue_node_certificate(
    ca: ConsortiumCA,
    node_id: str,
    city: str,
    node_public_key: bytes,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    serial: int,
) -> bytes:
    """A PEM certificate binding node_id (CN) and city (L) to the node's Ed25519 key."""
    key = _ca_private_key(ca.signing_key_seed)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, node_id),
            x509.NameAttribute(NameOID.LOCALITY_NAME, city),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ca.name),
        ]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca.name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(Ed25519PublicKey.from_public_bytes(node_public_key))
        .serial_number(serial)
        .not_valid_before(_utc(not_before))
        .not_valid_after(_utc(not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, algorithm=None)
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _load(pem: bytes, what: str) -> x509.Certificate:
    if len(pem) > SIZE_BYTES_MAX_CERTIFICATE:
        raise MalformedCertificateError(
            f"{what} of at most {SIZE_BYTES_MAX_CERTIFICATE} bytes", f"{len(pem)} bytes"
        )
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as error:
        raise MalformedCertificateError(f"PEM {what}", str(error)[:80]) from None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier, what: str) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise MalformedCertificateError(f"exactly one {what}", f"{len(values)}")
    return values[0].value


def _check_validity(certificate: x509.Certificate, subject: str, at: datetime.datetime) -> None:
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    if not not_before <= at <= not_after:
        raise CertificateValidityError(subject, at, not_before, not_after)


def _verify_signed_by(
    certificate: x509.Certificate, issuer_key: Ed25519PublicKey, subject: str
) -> None:
    try:
        issuer_key.verify(certificate.signature, certificate.tbs_certificate_bytes)
    except InvalidSignature:
        raise CertificateSignatureError(subject) from None


def verify_node_certificate(
    pem: bytes, ca_certificate_pem: bytes, at: datetime.datetime
) -> NodeIdentity:
    """The identity in a node certificate, once checked against the CA at moment `at`.

    Raises MalformedCertificateError, UnknownAuthorityError, CertificateSignatureError or
    CertificateValidityError.
    """
    moment = _utc(at)
    ca_certificate = _load(ca_certificate_pem, "CA certificate")
    ca_key = ca_certificate.public_key()
    if not isinstance(ca_key, Ed25519PublicKey):
        raise MalformedCertificateError("Ed25519 CA key", type(ca_key).__name__)
    ca_name = _attribute(ca_certificate.subject, NameOID.COMMON_NAME, "CA common name")
    try:
        constraints = ca_certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise MalformedCertificateError("CA basic constraints", "none") from None
    if not constraints.value.ca:
        raise MalformedCertificateError("a CA certificate", "an end-entity certificate")
    _verify_signed_by(ca_certificate, ca_key, ca_name)
    _check_validity(ca_certificate, ca_name, moment)

    certificate = _load(pem, "node certificate")
    node_id = _attribute(certificate.subject, NameOID.COMMON_NAME, "node id (CN)")
    if certificate.issuer != ca_certificate.subject:
        raise UnknownAuthorityError(
            ca_certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string()
        )
    _verify_signed_by(certificate, ca_key, node_id)
    _check_validity(certificate, node_id, moment)
    city = _attribute(certificate.subject, NameOID.LOCALITY_NAME, "city (L)")
    node_key = certificate.public_key()
    if not isinstance(node_key, Ed25519PublicKey):
        raise MalformedCertificateError("Ed25519 node key", type(node_key).__name__)
    raw_key = node_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return NodeIdentity(node_id, city, raw_key)


def admit_validators(
    pems: Iterable[bytes],
    ca_pem: bytes,
    at: datetime.datetime,
    chain_id: str = CHAIN_ID_DEFAULT,
) -> ValidatorAdmission:
    """Verify every certificate; keep the valid ones, in input order, as a validator set.

    A certificate that fails to verify, or names a node id or key already admitted, is dropped
    and listed in `rejected`.
    """
    validators: list[Validator] = []
    rejected: list[RejectedCertificate] = []
    seen_ids: set[str] = set()
    seen_keys: set[bytes] = set()
    for index, pem in enumerate(pems):
        try:
            identity = verify_node_certificate(pem, ca_pem, at)
        except IdentityError as error:
            rejected.append(RejectedCertificate(index, error))
            continue
        if identity.node_id in seen_ids or identity.public_key in seen_keys:
            rejected.append(RejectedCertificate(index, DuplicateNodeError(identity.node_id)))
            continue
        seen_ids.add(identity.node_id)
        seen_keys.add(identity.public_key)
        validators.append(Validator(identity.node_id, identity.city, identity.public_key))
    return ValidatorAdmission(ValidatorSet(tuple(validators), chain_id), tuple(rejected))


def validator_set_from_certificates(
    pems: Iterable[bytes],
    ca_pem: bytes,
    at: datetime.datetime,
    chain_id: str = CHAIN_ID_DEFAULT,
) -> ValidatorSet:
    """The validator set of the certificates that verify (see admit_validators for the report)."""
    return admit_validators(pems, ca_pem, at, chain_id).validator_set
