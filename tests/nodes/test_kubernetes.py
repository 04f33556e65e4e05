"""Kubernetes manifests of a preset, validated offline against the Kubernetes API schemas
(PyPI's kubernetes-validate), and what the pods run, executed here."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.dataset import SIZES, plan_enterprises, run_description
from chain.presets import get_preset
from nodes.cli.main import build_parser, main
from nodes.cluster.certificates import (
    ensure_certificates,
    generate_identities,
    load_validator_set,
)
from nodes.cluster.kubernetes import (
    CERTIFICATE_SECRET,
    NODE_KEY_SECRET_PREFIX,
    NODE_PORT,
    PEER_PORT,
    RUN_FILE,
    KubernetesOptions,
    generate_certificate_bundle,
    load_certificate_bundle,
    manifest_files,
    node_resources,
    render_documents,
    write_manifests,
)
from nodes.cluster.read_worker_counts import parse_read_workers
from nodes.runtime.peer_tls import load_node_seed

PRESET = get_preset("yrd-2021")
KUBERNETES_VERSIONS = ("1.29", "1.37")  # oldest and newest kept in mind for operators


@pytest.fixture(scope="module")
def documents() -> dict[str, list[dict[str, Any]]]:
    """The manifests of yrd-2021 with identities generated for this deployment."""
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
        assert container["ports"] == [{"name": "http", "containerPort": NODE_PORT},
                                      {"name": "peer", "containerPort": PEER_PORT}]
        assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
        secrets = [volume["secret"]["secretName"]
                   for volume in spec["template"]["spec"]["volumes"]]
        assert secrets == [CERTIFICATE_SECRET, NODE_KEY_SECRET_PREFIX + node_id]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()


def _service_port(service: dict[str, Any], name: str) -> int:
    """The port a Service exposes under `name`, after checking it routes to that named port."""
    port = next(port for port in service["spec"]["ports"] if port["name"] == name)
    assert port["targetPort"] == name
    return int(port["port"])


def test_each_node_command_is_valid_and_its_peers_are_node_services(
        documents: dict[str, list[dict[str, Any]]]) -> None:
    services = _of_kind(documents, "Service")
    for node_id, statefulset in _of_kind(documents, "StatefulSet").items():
        command = statefulset["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[0] == "yrdchain"
        arguments = build_parser().parse_args(command[1:])
        assert (arguments.node_id, arguments.preset, arguments.port, arguments.peer_port) == (
            node_id, PRESET.name, NODE_PORT, PEER_PORT)
        for peer in PRESET.nodes:
            url = urlparse(arguments.peer_url_template.format(node_id=peer.node_id))
            assert url.hostname in services and url.port == NODE_PORT
            host, port = arguments.peer_channel_template.format(
                node_id=peer.node_id).rsplit(":", 1)
            assert (host, int(port)) == (peer.node_id, PEER_PORT)
            service = services[peer.node_id]
            assert _service_port(service, "http") == NODE_PORT
            assert _service_port(service, "peer") == PEER_PORT
            assert service["spec"]["publishNotReadyAddresses"] is True
            assert service["spec"]["selector"] == {"yrdchain.io/node-id": peer.node_id}
    api = services["yrdchain-api"]["spec"]
    assert api["selector"]["app.kubernetes.io/name"] == "yrdchain-node"
    assert [port["name"] for port in api["ports"]] == ["http"]


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


def _mount_secret(secret: dict[str, Any], directory: Path) -> None:
    """What the kubelet does with a Secret volume: one file per key."""
    directory.mkdir()
    for name, value in secret["data"].items():
        (directory / name).write_bytes(base64.b64decode(value))


def _public_key(certificate_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(certificate_pem).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _seed_public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_the_init_step_installs_certificates_and_the_node_key_where_the_node_reads_them(
        documents: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    secrets = _of_kind(documents, "Secret")
    _mount_secret(secrets[CERTIFICATE_SECRET], tmp_path / "certificates")
    _mount_secret(secrets[NODE_KEY_SECRET_PREFIX + "suqian-1"], tmp_path / "node-key")
    init = _of_kind(documents, "StatefulSet")["suqian-1"]["spec"]["template"]["spec"][
        "initContainers"][0]
    assert init["command"][:2] == ["sh", "-c"]
    mounts = {mount["mountPath"] for mount in init["volumeMounts"]}
    assert mounts == {"/data", "/certificates", "/node-key"}
    data = tmp_path / "data"
    script = init["command"][2]
    for path in ("/certificates", "/node-key", "/data"):
        script = script.replace(path, str(tmp_path / path.lstrip("/")))
    subprocess.run(["sh", "-c", script], check=True, timeout=30)
    validators = load_validator_set(PRESET, data)
    assert sorted(validators.node_ids()) == sorted(node.node_id for node in PRESET.nodes)
    seed = load_node_seed(PRESET, "suqian-1", data / "suqian-1")
    assert seed != PRESET.node_seed("suqian-1")
    assert _seed_public_key(seed) == bytes(validators.verify_key("suqian-1"))
    assert stat.S_IMODE((data / "suqian-1" / "node.key").stat().st_mode) == 0o600


def test_each_node_key_secret_holds_the_key_of_its_certificate(
        documents: dict[str, list[dict[str, Any]]]) -> None:
    secrets = _of_kind(documents, "Secret")
    certificates = secrets[CERTIFICATE_SECRET]["data"]
    assert not any("key" in name for name in certificates)
    seeds = set()
    for node in PRESET.nodes:
        secret = secrets[NODE_KEY_SECRET_PREFIX + node.node_id]
        assert list(secret["data"]) == ["node.key"]
        seed = bytes.fromhex(base64.b64decode(secret["data"]["node.key"]).decode("ascii"))
        assert seed != PRESET.node_seed(node.node_id)
        certificate = base64.b64decode(certificates[f"{node.node_id}.pem"])
        assert _seed_public_key(seed) == _public_key(certificate)
        seeds.add(seed)
    assert len(seeds) == len(PRESET.nodes)
    again = manifest_files(PRESET, generate_certificate_bundle(PRESET), KubernetesOptions())
    assert _of_kind(again, "Secret")[CERTIFICATE_SECRET]["data"]["ca.pem"] != (
        certificates["ca.pem"])


def test_identities_come_from_a_directory_written_by_yrdchain_certs(tmp_path: Path) -> None:
    local4 = get_preset("local4")
    assert main(["certs", "--preset", "local4", "--data-dir", str(tmp_path / "ids")]) == 0
    ids = tmp_path / "ids"
    bundle = load_certificate_bundle(local4, ids)
    assert bundle.ca_pem == (ids / "ca.pem").read_bytes()
    assert dict(bundle.node_pems) == {
        node.node_id: (ids / "certs" / f"{node.node_id}.pem").read_bytes()
        for node in local4.nodes}
    assert dict(bundle.node_keys) == {
        node.node_id: (ids / node.node_id / "node.key").read_bytes() for node in local4.nodes}
    assert "node_keys" not in repr(bundle)
    first, second = (node.node_id for node in local4.nodes[:2])
    (ids / first / "node.key").write_bytes((ids / second / "node.key").read_bytes())
    with pytest.raises(ValueError, match=f"{first}/node.key does not match"):
        load_certificate_bundle(local4, ids)
    (ids / first / "node.key").unlink()
    with pytest.raises(FileNotFoundError):
        load_certificate_bundle(local4, ids)


def test_certificates_without_node_keys_are_refused(tmp_path: Path) -> None:
    local4 = get_preset("local4")
    ensure_certificates(local4, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"node\.key"):
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
    assert files == ["00-namespace.yaml", "10-certificates.yaml", "11-node-keys.yaml",
                     "20-nodes.yaml", "30-api.yaml", "40-load.yaml"]
    keys = tmp_path / "k8s" / "11-node-keys.yaml"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    text = (tmp_path / "k8s" / "20-nodes.yaml").read_text(encoding="utf-8")
    assert "&id" not in text and "*id" not in text
    loaded = list(yaml.safe_load_all(text))
    assert len(loaded) == 2 * len(get_preset("local4").nodes)
    assert {d["metadata"]["namespace"] for d in loaded} == {"ledger-lab"}
    out = capsys.readouterr().out
    assert "kubectl apply" in out
    for secret in yaml.safe_load_all(keys.read_text(encoding="utf-8")):
        key = base64.b64decode(secret["data"]["node.key"]).decode("ascii").strip()
        assert key not in out and secret["data"]["node.key"] not in out
    with pytest.raises(SystemExit, match="missing"):
        main(["k8s", "--preset", "local4", "--out", str(tmp_path / "k"), "--certs",
              str(tmp_path / "nowhere")])


def test_rendering_round_trips(documents: dict[str, list[dict[str, Any]]]) -> None:
    for batch in documents.values():
        assert list(yaml.safe_load_all(render_documents(batch))) == batch


def test_write_manifests_uses_the_given_identities(tmp_path: Path) -> None:
    local4 = get_preset("local4")
    generate_identities(local4, tmp_path / "ids")
    written = write_manifests(local4, tmp_path / "out", KubernetesOptions(), tmp_path / "ids")
    secret = yaml.safe_load(next(p for p in written if p.name == "10-certificates.yaml")
                            .read_text(encoding="utf-8"))
    assert base64.b64decode(secret["data"]["ca.pem"]) == (tmp_path / "ids" / "ca.pem").read_bytes()
    keys = list(yaml.safe_load_all(next(p for p in written if p.name == "11-node-keys.yaml")
                                   .read_text(encoding="utf-8")))
    assert {k["metadata"]["name"]: base64.b64decode(k["data"]["node.key"]) for k in keys} == {
        NODE_KEY_SECRET_PREFIX + node.node_id:
            (tmp_path / "ids" / node.node_id / "node.key").read_bytes() for node in local4.nodes}
    text = "".join(path.read_text(encoding="utf-8") for path in written)
    assert base64.b64encode((tmp_path / "ids" / "ca.key").read_bytes()).decode() not in text


def test_read_workers_reach_each_node_and_scale_its_cpu_and_memory() -> None:
    options = KubernetesOptions(read_workers=parse_read_workers("1,shanghai-1=3"))
    files = manifest_files(PRESET, generate_certificate_bundle(PRESET), options)
    for version in KUBERNETES_VERSIONS:
        for document in _all(files):
            kubernetes_validate.validate(document, version, strict=True)
    for node_id, statefulset in _of_kind(files, "StatefulSet").items():
        container = statefulset["spec"]["template"]["spec"]["containers"][0]
        workers = 3 if node_id == "shanghai-1" else 1
        assert build_parser().parse_args(container["command"][1:]).read_workers == workers
        assert container["resources"] == node_resources(workers)
    quiet = _of_kind(manifest_files(PRESET, generate_certificate_bundle(PRESET),
                                    KubernetesOptions()), "StatefulSet")["shanghai-1"]
    command = quiet["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--read-workers" not in command
    assert node_resources(0) == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                 "limits": {"cpu": "1500m", "memory": "2048Mi"}}
    assert node_resources(3) == {"requests": {"cpu": "2000m", "memory": "1280Mi"},
                                 "limits": {"cpu": "4500m", "memory": "5120Mi"}}
    with pytest.raises(ValueError, match="not a node of yrd-2021"):
        manifest_files(PRESET, generate_certificate_bundle(PRESET),
                       KubernetesOptions(read_workers=parse_read_workers("mars-1=1")))


def test_yrdchain_k8s_takes_read_workers(tmp_path: Path) -> None:
    assert main(["k8s", "--preset", "local4", "--out", str(tmp_path / "k8s"),
                 "--read-workers", "hefei-1=2"]) == 0
    text = (tmp_path / "k8s" / "20-nodes.yaml").read_text(encoding="utf-8")
    statefulsets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(text)
                    if d["kind"] == "StatefulSet"}
    resources = {node: s["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
                 ["cpu"] for node, s in statefulsets.items()}
    assert resources == {"shanghai-1": "500m", "nanjing-1": "500m", "hangzhou-1": "500m",
                         "hefei-1": "1500m"}
    with pytest.raises(SystemExit, match="not a node of local4"):
        main(["k8s", "--preset", "local4", "--out", str(tmp_path / "k"),
              "--read-workers", "wuhan-1=2"])
