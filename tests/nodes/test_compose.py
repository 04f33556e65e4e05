"""docker-compose.yml against the yrd-2021 preset (no Docker engine here: the file is parsed),
valid for Compose v2 (the Compose Specification's schema) and v1 (Debian's docker-compose 1.29,
whose `config` validates without an engine)."""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

from chain.presets import get_preset
from nodes.cli.main import build_parser
from nodes.cluster.compose import NODE_PORT, compose_document
from nodes.cluster.compose import main as compose_main
from nodes.cluster.read_worker_counts import parse_read_workers
from tests.tools import missing_tool

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


def _compose_spec_errors(document: Any) -> list[str]:
    """Violations of the Compose Specification's JSON schema (what Compose v2 implements)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_valid_for_compose_v2_against_the_compose_specification() -> None:
    assert _compose_spec_errors(_compose()) == []
    broken = _compose()
    broken["services"]["hefei-1"]["ports"] = 8607
    assert _compose_spec_errors(broken)


def test_valid_for_compose_v1_which_rejects_a_top_level_name(tmp_path: Path) -> None:
    assert "name" not in _compose()
    binary = shutil.which("docker-compose")
    if binary is None:
        missing_tool("Debian's docker-compose (Compose v1) is not installed (make compose-v1)")
    version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True,
                             timeout=60, check=False).stdout.strip()
    if not version.startswith("1."):
        missing_tool(f"docker-compose here is {version}, not Compose v1 (make compose-v1)")
    for profile in ([], ["--profile", "load"]):
        checked = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), *profile,
                                  "config", "-q"], capture_output=True, text=True, timeout=60,
                                 check=False, cwd=ROOT)
        assert checked.returncode == 0, checked.stderr
    named = tmp_path / "docker-compose.yml"
    named.write_text("name: yrdchain\n" + compose_document(PRESET), encoding="utf-8")
    refused = subprocess.run([binary, "-f", str(named), "config", "-q"], capture_output=True,
                             text=True, timeout=60, check=False, cwd=tmp_path)
    assert refused.returncode != 0 and "name" in refused.stderr


def test_read_workers_reach_each_node_command_and_the_file_stays_valid(tmp_path: Path) -> None:
    text = compose_document(PRESET, parse_read_workers("1,shanghai-1=3"))
    document = yaml.safe_load(text)
    assert _compose_spec_errors(document) == []
    for node in PRESET.nodes:
        command = document["services"][node.node_id]["command"]
        expected = 3 if node.node_id == "shanghai-1" else 1
        assert build_parser().parse_args(command[1:]).read_workers == expected
    assert "--read-workers" not in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    written = tmp_path / "docker-compose.yml"
    written.write_text(text, encoding="utf-8")
    binary = shutil.which("docker-compose")
    if binary is None:
        missing_tool("Debian's docker-compose (Compose v1) is not installed (make compose-v1)")
    checked = subprocess.run([binary, "-f", str(written), "config", "-q"], capture_output=True,
                             text=True, timeout=60, check=False, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_the_generator_takes_read_workers_on_its_command_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert compose_main(["local4", "--read-workers", "hefei-1=2"]) == 0
    services = yaml.safe_load(capsys.readouterr().out)["services"]
    assert services["hefei-1"]["command"][-2:] == ["--read-workers", "2"]
    assert "--read-workers" not in services["shanghai-1"]["command"]
    with pytest.raises(SystemExit):
        compose_main(["local4", "--read-workers", "wuhan-1=2"])
    assert "not a node of local4" in capsys.readouterr().err
