"""Node identities on disk: the consortium CA and one X.509 certificate per validator node.

`yrdchain up` writes them into the network's data directory on first start
(`ca.pem`, `certs/<node-id>.pem`); every node admits the validator set from those files and drops
(and logs) a certificate that does not verify. With the development presets the CA key and the
node keys derive from the preset, so a container that starts with an empty volume writes the very
same files (the certificates are deterministic: Ed25519 signatures and fixed validity dates).

For a real deployment `yrdchain certs` (`generate_identities`) writes a fresh CA and fresh node
keys instead, from the operating system's randomness, never from the preset's name: `ca.pem` and
`ca.key`, `certs/<node-id>.pem` and each node's `<node-id>/node.key` (read by
`nodes.runtime.peer_tls.load_node_seed`, for consensus and the peer channel).
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
from pathlib import Path

from nacl.signing import SigningKey

from chain.consensus.validators import ValidatorSet
from chain.crypto import keccak
from chain.identity import admit_validators, create_consortium_ca, issue_node_certificate
from chain.presets import Preset

LOGGER = logging.getLogger(__name__)
NOT_BEFORE = datetime.datetime(2020, 12, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2045, 12, 31, tzinfo=datetime.UTC)


def consensus_chain_id(preset: Preset) -> str:
    """The domain string every consensus signature of this network carries."""
    return f"yrdchain:{preset.name}:{preset.chain_id}"


def ensure_certificates(preset: Preset, network_dir: Path) -> None:
    """Write the CA and node certificates of a preset unless they exist."""
    certs = network_dir / "certs"
    ca_path = network_dir / "ca.pem"
    if ca_path.exists() and all((certs / f"{n.node_id}.pem").exists() for n in preset.nodes):
        return
    certs.mkdir(parents=True, exist_ok=True)
    ca = create_consortium_ca(
        f"yrdchain {preset.name} consortium CA",
        keccak(f"yrdchain:{preset.name}:ca".encode()),
        NOT_BEFORE, NOT_AFTER, serial=1,
    )
    _write_atomically(ca_path, ca.certificate_pem)
    for serial, node in enumerate(preset.nodes, start=2):
        pem = issue_node_certificate(ca, node.node_id, node.city.title,
                                     preset.node_public_key(node.node_id),
                                     NOT_BEFORE, NOT_AFTER, serial)
        _write_atomically(certs / f"{node.node_id}.pem", pem)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def load_validator_set(preset: Preset, network_dir: Path,
                       at: datetime.datetime | None = None) -> ValidatorSet:
    """Admit the validators whose certificates verify against the network's CA."""
    ca_pem = (network_dir / "ca.pem").read_bytes()
    pems = [(network_dir / "certs" / f"{n.node_id}.pem").read_bytes() for n in preset.nodes]
    admission = admit_validators(pems, ca_pem, at or datetime.datetime.now(datetime.UTC),
                                 consensus_chain_id(preset))
    for rejected in admission.rejected:
        LOGGER.warning("certificate of %s refused: %s", preset.nodes[rejected.index].node_id,
                       rejected.error)
    return admission.validator_set


FRESH_VALIDITY_DAYS = 3 * 365  # a deployment's certificates; reissue before they expire
NODE_KEY_FILE_NAME = "node.key"
CA_KEY_FILE_NAME = "ca.key"


def generate_identities(preset: Preset, network_dir: Path,
                        now: datetime.datetime | None = None) -> list[Path]:
    """A fresh CA and fresh node keys and certificates; FileExistsError if any exist already."""
    certs = network_dir / "certs"
    ca_path = network_dir / "ca.pem"
    written = [ca_path, network_dir / CA_KEY_FILE_NAME]
    written += [certs / f"{node.node_id}.pem" for node in preset.nodes]
    written += [network_dir / node.node_id / NODE_KEY_FILE_NAME for node in preset.nodes]
    existing = [path for path in written if path.exists()]
    if existing:
        raise FileExistsError(f"{existing[0]} exists: identities are generated once, into an "
                              "empty network directory")
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=FRESH_VALIDITY_DAYS)
    ca_seed = secrets.token_bytes(32)
    ca = create_consortium_ca(f"yrdchain {preset.name} consortium CA", ca_seed, start, end,
                              serial=secrets.randbits(63))
    certs.mkdir(parents=True, exist_ok=True)
    _write_secret(network_dir / CA_KEY_FILE_NAME, ca_seed.hex())
    _write_atomically(ca_path, ca.certificate_pem)
    for node in preset.nodes:
        seed = secrets.token_bytes(32)
        public_key = bytes(SigningKey(seed).verify_key)
        _write_secret(network_dir / node.node_id / NODE_KEY_FILE_NAME, seed.hex())
        _write_atomically(certs / f"{node.node_id}.pem", issue_node_certificate(
            ca, node.node_id, node.city.title, public_key, start, end,
            serial=secrets.randbits(63)))
    return written


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(text + "\n")
