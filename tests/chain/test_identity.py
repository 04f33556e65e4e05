"""Node identity: the consortium CA issues X.509 certificates for validator keys."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from chain.identity import (
    CertificateSignatureError,
    CertificateValidityError,
    ConsortiumCA,
    DuplicateNodeError,
    MalformedCertificateError,
    UnknownAuthorityError,
    admit_validators,
    create_consortium_ca,
    derive_node_signing_key,
    issue_node_certificate,
    validator_set_from_certificates,
    verify_node_certificate,
)

UTC = datetime.UTC
START = datetime.datetime(2020, 12, 1, tzinfo=UTC)
END = datetime.datetime(2030, 12, 1, tzinfo=UTC)
NOW = datetime.datetime(2021, 10, 1, tzinfo=UTC)
NODES = (("shanghai-1", "Shanghai"), ("nanjing-1", "Nanjing"), ("hefei-1", "Hefei"))


@pytest.fixture(scope="module")
def ca() -> ConsortiumCA:
    return create_consortium_ca("YRD Credit Chain CA", b"ca-seed", START, END, serial=1)


def issue(ca: ConsortiumCA, node_id: str, city: str, serial: int = 10, **times: object) -> bytes:
    _, public = derive_node_signing_key(node_id.encode())
    not_before = times.get("not_before", START)
    not_after = times.get("not_after", END)
    assert isinstance(not_before, datetime.datetime) and isinstance(not_after, datetime.datetime)
    return issue_node_certificate(ca, node_id, city, public, not_before, not_after, serial)


def test_key_derivation_is_deterministic() -> None:
    private, public = derive_node_signing_key(b"seed")
    assert (private, public) == derive_node_signing_key(b"seed")
    assert len(private) == 32 and len(public) == 32
    assert derive_node_signing_key(b"other")[1] != public


def test_ca_is_deterministic_for_a_seed() -> None:
    first = create_consortium_ca("CA", b"seed", START, END, 1)
    second = create_consortium_ca("CA", b"seed", START, END, 1)
    assert first.certificate_pem == second.certificate_pem


def test_valid_certificate_is_accepted(ca: ConsortiumCA) -> None:
    identity = verify_node_certificate(issue(ca, "suzhou-1", "Suzhou"), ca.certificate_pem, NOW)
    assert identity.node_id == "suzhou-1"
    assert identity.city == "Suzhou"
    assert identity.public_key == derive_node_signing_key(b"suzhou-1")[1]


def test_naive_datetime_is_read_as_utc(ca: ConsortiumCA) -> None:
    pem = issue(ca, "suzhou-1", "Suzhou")
    assert verify_node_certificate(pem, ca.certificate_pem, NOW.replace(tzinfo=None)).city


def test_expired_and_not_yet_valid(ca: ConsortiumCA) -> None:
    pem = issue(ca, "suqian-1", "Suqian", not_before=START, not_after=NOW)
    with pytest.raises(CertificateValidityError) as caught:
        verify_node_certificate(pem, ca.certificate_pem, NOW + datetime.timedelta(days=1))
    assert caught.value.subject == "suqian-1"
    with pytest.raises(CertificateValidityError):
        verify_node_certificate(pem, ca.certificate_pem, START - datetime.timedelta(days=1))


def test_expired_ca_refused(ca: ConsortiumCA) -> None:
    pem = issue(ca, "suqian-1", "Suqian")
    with pytest.raises(CertificateValidityError):
        verify_node_certificate(pem, ca.certificate_pem, END + datetime.timedelta(days=1))


def test_wrong_ca(ca: ConsortiumCA) -> None:
    same_name = create_consortium_ca("YRD Credit Chain CA", b"rogue-seed", START, END, 1)
    other_name = create_consortium_ca("Rogue CA", b"rogue-seed", START, END, 1)
    pem = issue(same_name, "taizhou-1", "Taizhou")
    with pytest.raises(CertificateSignatureError):
        verify_node_certificate(pem, ca.certificate_pem, NOW)
    with pytest.raises(UnknownAuthorityError):
        verify_node_certificate(issue(other_name, "taizhou-1", "Taizhou"), ca.certificate_pem, NOW)


def test_tampered_certificate(ca: ConsortiumCA) -> None:
    certificate = x509.load_pem_x509_certificate(issue(ca, "changzhou-1", "Changzhou"))
    der = bytearray(certificate.public_bytes(Encoding.DER))
    offset = der.find(b"Changzhou")
    assert offset > 0
    der[offset : offset + 9] = b"Hangzhou!"
    tampered = x509.load_der_x509_certificate(bytes(der)).public_bytes(Encoding.PEM)
    with pytest.raises(CertificateSignatureError):
        verify_node_certificate(tampered, ca.certificate_pem, NOW)


def test_garbage_is_malformed(ca: ConsortiumCA) -> None:
    with pytest.raises(MalformedCertificateError):
        verify_node_certificate(b"not a certificate", ca.certificate_pem, NOW)
    node_pem = issue(ca, "hefei-1", "Hefei")
    with pytest.raises(MalformedCertificateError):
        verify_node_certificate(node_pem, node_pem, NOW)


def test_validator_set_from_certificates_drops_bad_ones(ca: ConsortiumCA) -> None:
    rogue = create_consortium_ca("YRD Credit Chain CA", b"rogue", START, END, 1)
    pems = [issue(ca, node_id, city, serial) for serial, (node_id, city) in enumerate(NODES, 10)]
    pems.append(issue(rogue, "wuxi-1", "Wuxi"))
    pems.append(issue(ca, "shanghai-1", "Shanghai", 99))
    admission = admit_validators(pems, ca.certificate_pem, NOW, chain_id="yrd-test")
    assert admission.validator_set.node_ids() == ("shanghai-1", "nanjing-1", "hefei-1")
    assert admission.validator_set.chain_id == "yrd-test"
    assert [r.index for r in admission.rejected] == [3, 4]
    assert isinstance(admission.rejected[0].error, CertificateSignatureError)
    assert isinstance(admission.rejected[1].error, DuplicateNodeError)
    validator_set = validator_set_from_certificates(pems, ca.certificate_pem, NOW)
    assert validator_set.size == 3 and validator_set.quorum == 3
