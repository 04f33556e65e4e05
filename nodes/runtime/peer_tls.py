"""Mutual TLS for the peer channel with the consortium CA's node certificates.

Both ends present their node certificate (`certs/<node-id>.pem` in the network directory,
issued by `ca.pem`) and prove its key: the node's Ed25519 consensus key. TLS 1.3 only, and
both sides require the other's certificate (`CERT_REQUIRED`): OpenSSL checks the chain to the
consortium CA and the validity dates; `peer_node_id` then requires the certificate's common
name to be a validator of this chain whose admitted key is the certificate's key. A connection
that fails any of this is closed before a single frame is read.

The node's private key: `<data dir>/node.key` (32-byte Ed25519 seed, hex) when present — what
`yrdchain certs` writes for a real deployment — otherwise the development preset's derived
seed. The key is handed to OpenSSL as a PKCS#8 file readable by the node's user only.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from chain.consensus.validators import ValidatorSet
from chain.presets import Preset

NODE_KEY_FILE_NAME = "node.key"
TLS_KEY_FILE_NAME = "peer-tls.key"
READS_PROTOCOL = "yrd-reads"  # ALPN of a read worker's connection: requests only (ADR 0021)


class PeerIdentityError(Exception):
    """A peer's certificate does not name a validator of this chain with its admitted key."""


def load_node_seed(preset: Preset, node_id: str, data_dir: Path) -> bytes:
    """The node's Ed25519 seed: `node.key` in its data directory, else the preset's."""
    path = data_dir / NODE_KEY_FILE_NAME
    if path.exists():
        seed = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(seed) != 32:
            raise ValueError(f"{path}: an Ed25519 seed is 32 bytes (64 hex digits)")
        return seed
    return preset.node_seed(node_id)


@dataclass(frozen=True, slots=True)
class PeerTls:
    """The two TLS contexts of one node: accepting peers and dialing them."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def peer_tls(network_dir: Path, data_dir: Path, node_id: str, seed: bytes) -> PeerTls:
    """Contexts presenting `certs/<node_id>.pem` and trusting only the network's `ca.pem`."""
    key_path = data_dir / TLS_KEY_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return tls_contexts(network_dir, key_path, node_id)


def tls_contexts(network_dir: Path, key_path: Path, node_id: str,
                 reads_only: bool = False) -> PeerTls:
    """The two contexts over a key file already written (a read worker reads its node's).

    The server accepts the ALPN name `READS_PROTOCOL` (a client offering none is a node's own
    channel); with `reads_only` the client offers it: a read worker's connection, which
    carries its requests and their answers and nothing else."""
    certificate = network_dir / "certs" / f"{node_id}.pem"
    authority = network_dir / "ca.pem"
    contexts = []
    for purpose in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS_CLIENT):
        context = ssl.SSLContext(purpose)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(certificate, key_path)
        context.load_verify_locations(authority)
        context.check_hostname = False  # peers are named by certificate, checked below
        context.verify_mode = ssl.CERT_REQUIRED
        if purpose == ssl.PROTOCOL_TLS_SERVER or reads_only:
            context.set_alpn_protocols([READS_PROTOCOL])
        contexts.append(context)
    return PeerTls(server=contexts[0], client=contexts[1])


def peer_node_id(ssl_object: ssl.SSLObject | None, validators: ValidatorSet) -> str:
    """The validator a verified TLS peer is; PeerIdentityError if it is none."""
    if ssl_object is None:
        raise PeerIdentityError("not a TLS connection")
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise PeerIdentityError("the peer presented no certificate")
    certificate = x509.load_der_x509_certificate(der)
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    node_id = str(names[0].value) if names else ""
    admitted = validators.verify_key(node_id)
    if admitted is None:
        raise PeerIdentityError(f"{node_id!r} is not a validator of this chain")
    public_key = certificate.public_key()
    if not isinstance(public_key, Ed25519PublicKey) or public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) != bytes(admitted):
        raise PeerIdentityError(f"the certificate of {node_id} does not hold its admitted key")
    return node_id
