"""docker-compose.yml against the yrd-2021 preset (no Docker engine here: the file is parsed)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml

from chain.presets import get_preset
from nodes.cli.main import build_parser
from nodes.cluster.compose import NODE_PORT, compose_document

ROOT = Path(__file__).resolve().parents[2]
PRESET = get_preset("yrd-2021")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _node_services() -> dict:
    """The services outside a profile: the nodes (the `load` profile adds Locust)."""
    return {name: service for name, service in _compose()["services"].items()
            if "profiles" not in service}


def test_committed_file_is_what_the_generator_writes() -> None:
    assert (ROOT / "docker-compose.yml").read_text(encoding="utf-8") == compose_document(PRESET)


def test_every_node_of_the_preset_is_a_service_with_its_own_volume_and_port() -> None:
    services = _node_services()
    assert sorted(services) == sorted(node.node_id for node in PRESET.nodes)
    host_ports = []
    for node in PRESET.nodes:
        service = services[node.node_id]
        assert service["build"] == "."
        assert service["volumes"] == [f"{node.node_id}-data:/data"]
        host, container = service["ports"][0].split(":")
        assert int(container) == NODE_PORT
        host_ports.append(int(host))
        assert "/status" in " ".join(service["healthcheck"]["test"])
    assert len(set(host_ports)) == len(PRESET.nodes)
    assert set(_compose()["volumes"]) == {f"{n.node_id}-data" for n in PRESET.nodes}


def test_each_command_is_a_valid_node_invocation_whose_peers_are_services() -> None:
    services = _node_services()
    for node_id, service in services.items():
        command = service["command"]
        assert command[0] == "yrdchain"
        arguments = build_parser().parse_args(command[1:])
        assert arguments.node_id == node_id
        assert arguments.preset == PRESET.name
        assert arguments.port == NODE_PORT
        for peer in PRESET.nodes:
            url = urlparse(arguments.peer_url_template.format(node_id=peer.node_id))
            assert url.hostname in services
            assert url.port == NODE_PORT


def test_load_profile_runs_a_loader_a_locust_master_and_workers() -> None:
    services = _compose()["services"]
    load = {name for name, service in services.items() if service.get("profiles") == ["load"]}
    assert load == {"loader", "locust-master", "locust-worker"}
    assert "--master" in services["locust-master"]["command"]
    assert "--worker" in services["locust-worker"]["command"]
    assert services["locust-worker"]["deploy"]["replicas"] >= 2
    assert set(services["loader"]["depends_on"]) == {n.node_id for n in PRESET.nodes}
