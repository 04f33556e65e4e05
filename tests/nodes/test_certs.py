"""`yrdchain certs`: a fresh CA and node keys, never the preset's derivable ones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chain.presets import get_preset
from nodes.cli.main import main
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.runtime.peer_tls import load_node_seed
from tests.nodes.test_peer_channels import ACCEPTOR, DIALER, _channels


def test_fresh_identities_differ_from_the_preset_and_are_used(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    preset = get_preset("local4")
    assert main(["certs", "--preset", "local4", "--data-dir", str(tmp_path)]) == 0
    assert "ca.key" in capsys.readouterr().out
    ensure_certificates(preset, tmp_path)  # what `up` does: keeps the fresh files
    validators = load_validator_set(preset, tmp_path)
    assert len(validators.validators) == len(preset.nodes)
    for node in preset.nodes:
        seed = load_node_seed(preset, node.node_id, tmp_path / node.node_id)
        assert seed != preset.node_seed(node.node_id)
        assert (tmp_path / node.node_id / "node.key").stat().st_mode & 0o077 == 0
        key = validators.verify_key(node.node_id)
        assert key is not None and bytes(key) != preset.node_public_key(node.node_id)
    again = tmp_path / "again"
    assert main(["certs", "--preset", "local4", "--data-dir", str(again)]) == 0
    assert (again / "ca.pem").read_bytes() != (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(SystemExit, match="exists"):
        main(["certs", "--preset", "local4", "--data-dir", str(tmp_path)])


def test_the_derived_development_key_is_refused_by_a_fresh_network(tmp_path: Path) -> None:
    preset = get_preset("local4")
    main(["certs", "--preset", "local4", "--data-dir", str(tmp_path)])
    ensure_certificates(preset, tmp_path / "dev")  # the derivable development identities
    delivered: list[tuple[str, bytes]] = []

    async def scenario() -> int:
        acceptor = _channels(preset, tmp_path, ACCEPTOR, DIALER, None, delivered)
        await acceptor.start()
        assert acceptor._server is not None
        port = acceptor._server.sockets[0].getsockname()[1]
        impostor = _channels(preset, tmp_path / "dev", DIALER, ACCEPTOR, port, [])
        await impostor.start()
        await asyncio.sleep(0.5)
        impostor.broadcast("consensus", b"forged")
        await asyncio.sleep(0.2)
        await impostor.stop()
        await acceptor.stop()
        return acceptor.connections_opened

    assert asyncio.run(scenario()) == 0
    assert delivered == []
