"""Kubernetes manifests of a preset, validated offline against the Kubernetes API schemas
(PyPI's kubernetes-validate), and what the pods run, executed here."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml

from benchmarks.dataset import SIZES, plan_enterprises, run_description
from chain.presets import get_preset
from nodes.cli.main import build_parser, main
from nodes.cluster.certificates import ensure_certificates, load_validator_set
from nodes.cluster.kubernetes import (
    CERTIFICATE_SECRET,
    NODE_PORT,
    RUN_FILE,
    KubernetesOptions,
    generate_certificate_bundle,
    load_certificate_bundle,
    manifest_files,
    render_documents,
    write_manifests,
)

PRESET = get_preset("yrd-2021")
KUBERNETES_VERSIONS = ("1.29", "1.37")  # oldest and newest kept in mind for operators


@pytest.fixture(scope="module")
def documents() -> dict[str, list[dict[str, Any]]]:
    """The manifests of yrd-2021 with certificates written for this deployment."""
    return manifest_files(PRESET, generate_certificate_bundle(PRESET), KubernetesOptions())


def _all(documents: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [document for batch in documents.values() for document in batch]


def _of_kind(documents: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _all(documents) if d["kind"] == kind}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_document_is_valid_against_the_kubernetes_schemas(
        documents: dict[str, list[dict[str, Any]]], version: str) -> None:
    for document in _all(documents):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_rejects_a_broken_manifest(
        documents: dict[str, list[dict[str, Any]]]) -> None:
    broken = json.loads(json.dumps(_of_kind(documents, "StatefulSet")["hefei-1"]))
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37", strict=True)


def test_one_statefulset_with_its_own_claim_and_status_probes_per_node(
        documents: dict[str, list[dict[str, Any]]]) -> None:
    statefulsets = _of_kind(documents, "StatefulSet")
    assert sorted(statefulsets) == sorted(node.node_id for node in PRESET.nodes)
    for node_id, statefulset in statefulsets.items():
        spec = statefulset["spec"]
        assert spec["replicas"] == 1 and spec["serviceName"] == node_id
        assert [claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]] == ["data"]
        container = spec["template"]["spec"]["containers"][0]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"] == {"path": "/status", "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": NODE_PORT}]
        assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
        secret = spec["template"]["spec"]["volumes"][0]["secret"]["secretName"]
        assert secret == CERTIFICATE_SECRET
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_each_node_command_is_valid_and_its_peers_are_node_services(
        documents: dict[str, list[dict[str, Any]]]) -> None:
    services = _of_kind(documents, "Service")
    for node_id, statefulset in _of_kind(documents, "StatefulSet").items():
        command = statefulset["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[0] == "yrdchain"
        arguments = build_parser().parse_args(command[1:])
        assert (arguments.node_id, arguments.preset, arguments.port) == (
            node_id, PRESET.name, NODE_PORT)
        for peer in PRESET.nodes:
            url = urlparse(arguments.peer_url_template.format(node_id=peer.node_id))
            assert url.hostname in services and url.port == NODE_PORT
            service = services[peer.node_id]["spec"]
            assert service["publishNotReadyAddresses"] is True
            assert service["selector"] == {"yrdchain.io/node-id": peer.node_id}
    api = services["yrdchain-api"]["spec"]
    assert api["selector"]["app.kubernetes.io/name"] == "yrdchain-node"


def test_spread_required_keeps_node_pods_on_separate_machines() -> None:
    files = manifest_files(PRESET, generate_certificate_bundle(PRESET),
                           KubernetesOptions(spread="required"))
    for statefulset in _of_kind(files, "StatefulSet").values():
        anti = statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        term = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "kubernetes.io/hostname"
    with pytest.raises(ValueError, match="spread"):
        manifest_files(PRESET, generate_certificate_bundle(PRESET),
                       KubernetesOptions(spread="sometimes"))


def test_the_installed_certificates_admit_the_whole_validator_set(
        documents: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    secret = _of_kind(documents, "Secret")[CERTIFICATE_SECRET]
    mounted = tmp_path / "certificates"
    mounted.mkdir()
    for name, value in secret["data"].items():
        (mounted / name).write_bytes(base64.b64decode(value))
    init = _of_kind(documents, "StatefulSet")["suqian-1"]["spec"]["template"]["spec"][
        "initContainers"][0]
    assert init["command"][:2] == ["sh", "-c"]
    data = tmp_path / "data"
    script = init["command"][2].replace("/certificates", str(mounted)).replace(
        "/data", str(data))
    subprocess.run(["sh", "-c", script], check=True, timeout=30)
    validators = load_validator_set(PRESET, data)
    assert sorted(validators.node_ids()) == sorted(node.node_id for node in PRESET.nodes)


def test_certificates_come_from_a_given_directory(tmp_path: Path) -> None:
    local4 = get_preset("local4")
    ensure_certificates(local4, tmp_path)
    bundle = load_certificate_bundle(local4, tmp_path)
    assert bundle.ca_pem == (tmp_path / "ca.pem").read_bytes()
    assert dict(bundle.node_pems) == {
        node.node_id: (tmp_path / "certs" / f"{node.node_id}.pem").read_bytes()
        for node in local4.nodes}
    (tmp_path / "certs" / f"{local4.nodes[2].node_id}.pem").unlink()
    with pytest.raises(FileNotFoundError):
        load_certificate_bundle(local4, tmp_path)


def test_locust_master_loads_then_leads_and_workers_describe_the_same_run(
        documents: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    master = _of_kind(documents, "Job")["locust-master"]["spec"]["template"]["spec"]
    workers = _of_kind(documents, "Deployment")["locust-worker"]["spec"]
    assert "--master" in master["containers"][0]["command"]
    assert master["initContainers"][0]["command"][:3] == ["python", "-m", "benchmarks.dataset"]
    assert "--worker" in workers["template"]["spec"]["containers"][0]["command"]
    assert workers["replicas"] == KubernetesOptions().locust_workers
    describe = workers["template"]["spec"]["initContainers"][0]["command"]
    run_file = tmp_path / "run.json"
    script = describe[2].replace(RUN_FILE, str(run_file))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])
    options = KubernetesOptions()
    expected = run_description(
        PRESET, {n.node_id: f"http://{n.node_id}:{NODE_PORT}" for n in PRESET.nodes},
        plan_enterprises(PRESET, SIZES[options.load_size], options.load_seed))
    assert json.loads(run_file.read_text(encoding="utf-8")) == expected


def test_yrdchain_k8s_writes_plain_yaml_files(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", "--preset", "local4", "--out", str(tmp_path / "k8s"),
                 "--namespace", "ledger-lab", "--locust-workers", "2"]) == 0
    files = sorted(path.name for path in (tmp_path / "k8s").iterdir())
    assert files == ["00-namespace.yaml", "10-certificates.yaml", "20-nodes.yaml",
                     "30-api.yaml", "40-load.yaml"]
    text = (tmp_path / "k8s" / "20-nodes.yaml").read_text(encoding="utf-8")
    assert "&id" not in text and "*id" not in text
    loaded = list(yaml.safe_load_all(text))
    assert len(loaded) == 2 * len(get_preset("local4").nodes)
    assert {d["metadata"]["namespace"] for d in loaded} == {"ledger-lab"}
    assert "kubectl apply" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="missing"):
        main(["k8s", "--preset", "local4", "--out", str(tmp_path / "k"), "--certs",
              str(tmp_path / "nowhere")])


def test_rendering_round_trips(documents: dict[str, list[dict[str, Any]]]) -> None:
    for batch in documents.values():
        assert list(yaml.safe_load_all(render_documents(batch))) == batch


def test_write_manifests_uses_the_given_certificates(tmp_path: Path) -> None:
    local4 = get_preset("local4")
    ensure_certificates(local4, tmp_path / "certs-dir")
    written = write_manifests(local4, tmp_path / "out", KubernetesOptions(),
                              tmp_path / "certs-dir")
    secret = yaml.safe_load(next(p for p in written if p.name == "10-certificates.yaml")
                            .read_text(encoding="utf-8"))
    assert base64.b64decode(secret["data"]["ca.pem"]) == (
        tmp_path / "certs-dir" / "ca.pem").read_bytes()
