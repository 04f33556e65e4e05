"""Node identities on disk: the consortium CA and one X.509 certificate per validator node.

`yrdchain up` writes them into the network's data directory on first start
(`ca.pem`, `certs/<node-id>.pem`); every node admits the validator set from those files and drops
(and logs) a certificate that does not verify. With the development presets the CA key and the
node keys derive from the preset, so a container that starts with an empty volume writes the very
same files (the certificates are deterministic: Ed25519 signatures and fixed validity dates).
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

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
