"""TLS client identities for the peer-channel fuzzer: the one a node accepts, the ones it refuses.

`Identities.valid` presents the certificate and key of a consortium node that dials the target
(the fuzzer speaks as it). `Identities.refused` are what the target must close before reading a
frame: no client certificate, a certificate from another CA, the development CA's certificate
for a name that is no validator or for a validator's name with another key, and the real
certificate of a validator the target dials itself (so never accepts).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from chain.crypto import keccak
from chain.identity import ConsortiumCA, create_consortium_ca, issue_node_certificate
from chain.presets import Preset
from nodes.cluster.certificates import NOT_AFTER, NOT_BEFORE
from nodes.runtime.peer_tls import peer_tls


class Identities:
    """TLS client contexts: the impersonated node's, and every kind a node must refuse."""

    def __init__(self, preset: Preset, network_dir: Path, impersonated: str, dialer: str,
                 directory: Path) -> None:
        self.valid = peer_tls(network_dir, directory / "valid", impersonated,
                              preset.node_seed(impersonated)).client
        # A validator the target dials itself: it may not dial the target.
        self.dialed_validator = peer_tls(network_dir, directory / "dialed", dialer,
                                         preset.node_seed(dialer)).client
        self.no_certificate = _client_context(network_dir / "ca.pem")
        consortium = _dev_consortium_ca(preset)
        foreign = create_consortium_ca("another consortium CA", b"\x42" * 32, NOT_BEFORE,
                                       NOT_AFTER, serial=1)
        seed = preset.node_seed(impersonated)
        own_key = preset.node_public_key(impersonated)
        stranger_seed = b"\x07" * 32
        stranger_key = Ed25519PrivateKey.from_private_bytes(stranger_seed).public_key(
        ).public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.refused = {
            "another CA": _context_with(directory / "foreign", network_dir / "ca.pem",
                                        issue_node_certificate(foreign, impersonated, "Shanghai",
                                                               own_key, NOT_BEFORE, NOT_AFTER,
                                                               2), seed),
            "no validator's name": _context_with(
                directory / "stranger", network_dir / "ca.pem",
                issue_node_certificate(consortium, "mallory-1", "Shanghai", stranger_key,
                                       NOT_BEFORE, NOT_AFTER, 90), stranger_seed),
            "a validator's name, another key": _context_with(
                directory / "impostor", network_dir / "ca.pem",
                issue_node_certificate(consortium, impersonated, "Shanghai", stranger_key,
                                       NOT_BEFORE, NOT_AFTER, 91), stranger_seed),
            "a validator this node dials": self.dialed_validator,
            "no certificate": self.no_certificate,
        }


def _dev_consortium_ca(preset: Preset) -> ConsortiumCA:
    """The development presets' CA, whose key is derived (`ensure_certificates`)."""
    return create_consortium_ca(f"yrdchain {preset.name} consortium CA",
                                keccak(f"yrdchain:{preset.name}:ca".encode()),
                                NOT_BEFORE, NOT_AFTER, serial=1)


def _client_context(authority: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(authority)
    return context


def _context_with(directory: Path, authority: Path, certificate_pem: bytes,
                  seed: bytes) -> ssl.SSLContext:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(certificate_pem)
    (directory / "key.pem").write_bytes(Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    context = _client_context(authority)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context
