"""Commit certificates: quorum of distinct valid seals over (chain id, height, block hash)."""

from __future__ import annotations

import pytest

from chain.consensus.certificate import (
    CommitCertificate,
    decode_certificate,
    verify_certificate,
)
from chain.consensus.errors import (
    DuplicateSealError,
    InsufficientSealsError,
    InvalidSealError,
    MalformedMessageError,
    UnknownSealerError,
)
from chain.consensus.signing import Signer
from chain.consensus.validators import ValidatorSet
from tests.chain.consensus.keys import make_validators

BLOCK = bytes([7]) * 32
OTHER = bytes([8]) * 32


def certificate_from(signers: dict[str, Signer], node_ids: list[str]) -> CommitCertificate:
    seals = tuple((n, signers[n].seal(5, BLOCK)) for n in node_ids)
    return CommitCertificate(5, 2, BLOCK, seals)


def test_quorum_certificate_verifies(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    certificate = certificate_from(signers4, ["shanghai-1", "nanjing-1", "hefei-1"])
    assert verify_certificate(certificate, validator_set) is None
    assert CommitCertificate.decode(certificate.encode()) == certificate


def test_missing_seals(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    with pytest.raises(InsufficientSealsError) as caught:
        verify_certificate(certificate_from(signers4, ["shanghai-1", "nanjing-1"]), validator_set)
    assert (caught.value.quorum, caught.value.valid_seals) == (3, 2)


def test_duplicate_seals(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    certificate = certificate_from(signers4, ["shanghai-1", "nanjing-1", "nanjing-1"])
    with pytest.raises(DuplicateSealError):
        verify_certificate(certificate, validator_set)


def test_foreign_key(validators4: tuple[ValidatorSet, dict[str, bytes]]) -> None:
    validator_set, _ = validators4
    foreign_set, foreign_seeds = make_validators(4, key_label=b"another-consortium/")
    foreign = {n: Signer(n, seed, foreign_set.chain_id) for n, seed in foreign_seeds.items()}
    with pytest.raises(InvalidSealError):
        verify_certificate(
            certificate_from(foreign, ["shanghai-1", "nanjing-1", "hefei-1"]), validator_set
        )


def test_unknown_sealer(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    certificate = certificate_from(signers4, ["shanghai-1", "nanjing-1", "hefei-1"])
    forged = CommitCertificate(5, 2, BLOCK, (*certificate.seals, ("wuxi-1", b"\x00" * 64)))
    with pytest.raises(UnknownSealerError):
        verify_certificate(forged, validator_set)


def test_wrong_hash_and_wrong_height(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    certificate = certificate_from(signers4, ["shanghai-1", "nanjing-1", "hefei-1"])
    with pytest.raises(InvalidSealError):
        verify_certificate(CommitCertificate(5, 2, OTHER, certificate.seals), validator_set)
    with pytest.raises(InvalidSealError):
        verify_certificate(CommitCertificate(6, 2, BLOCK, certificate.seals), validator_set)


def test_seals_bound_to_chain_id(signers4: dict[str, Signer]) -> None:
    validator_set, seeds = make_validators(4, chain_id="another-chain")
    certificate = certificate_from(signers4, ["shanghai-1", "nanjing-1", "hefei-1"])
    with pytest.raises(InvalidSealError):
        verify_certificate(certificate, validator_set)
    assert seeds


def test_malformed_certificate_bytes(signers4: dict[str, Signer]) -> None:
    data = certificate_from(signers4, ["shanghai-1"]).encode()
    with pytest.raises(MalformedMessageError):
        decode_certificate(data[:-1])
    with pytest.raises(MalformedMessageError):
        decode_certificate(data + b"\x00")
