"""Kubernetes manifests for a preset: `yrdchain k8s --preset yrd-2021 --out DIR`.

One StatefulSet per validator node (one pod, its own PersistentVolumeClaim for the chain), one
Service per node under the node's id (HTTP on 8600; the authenticated peer channel, mutual TLS,
on 8700, where peers dial `<node-id>:8700`), one Service `yrdchain-api` over every ready node for
institutions, readiness and liveness probes on `GET /status`, the network's certificates as one
Secret and each node's private key as a Secret of its own.
The `load` manifests run distributed Locust: a Job (the Locust master, which first loads a seeded
data set through signed transactions) and a Deployment of Locust workers, spread over machines.

Identities come from a directory laid out as `yrdchain certs` writes it (`ca.pem`,
`certs/<node-id>.pem`, `<node-id>/node.key`; its `ca.key` is never read): `--certs DIR` takes
it; without it a fresh set is generated for this deployment the same way
(`generate_identities`: the operating system's randomness, never the preset's name). Each node
key must match its certificate. A pod's init container copies the certificates and its own
node's key into the volume before the node starts, where the node admits its validator set from
the certificates and signs (consensus and the peer channel) with `<node-id>/node.key`.

Written as YAML, one file per concern, in apply order; `kubectl apply -f DIR` applies them all.
docs/kubernetes.md explains running yrd-2021 on 14 machines.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.presets import Preset
from nodes.cluster.certificates import NODE_KEY_FILE_NAME, generate_identities
from nodes.cluster.read_worker_counts import NO_READ_WORKERS, ReadWorkerCounts

NODE_PORT = 8600
PROCESS_CPU_REQUEST_M = 500  # per process of a node pod: the node's, and each read worker's
PROCESS_CPU_LIMIT_M = 1_000  # a process runs one event loop: a core is all it uses
NODE_THREADS_CPU_LIMIT_M = 500  # on top: the node's fsync and storage threads
NODE_MEMORY_REQUEST_MI = 512
NODE_MEMORY_LIMIT_MI = 2_048
WORKER_MEMORY_REQUEST_MI = 256  # a worker's caches and its share of the mapped LMDB pages
WORKER_MEMORY_LIMIT_MI = 1_024
PEER_PORT = NODE_PORT + 100  # the peer channel: `yrdchain node`'s default, --port + 100
LOCUST_MASTER_PORT = 5557
LOCUST_WEB_PORT = 8089
LABEL_APP = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_NODE = "yrdchain.io/node-id"
LABEL_CITY = "yrdchain.io/city"
CERTIFICATE_SECRET = "yrdchain-certificates"
NODE_KEY_SECRET_PREFIX = "yrdchain-node-key-"  # + node id: one Secret per node's private key
NODE_KEYS_FILE = "11-node-keys.yaml"  # holds private keys: written readable by its owner only
RUN_FILE = "/run/yrdchain/run.json"
SPREADS = ("preferred", "required")  # how strictly node pods avoid sharing a machine


@dataclass(frozen=True, slots=True)
class KubernetesOptions:
    """What an operator chooses for one deployment.

    spread: "required" puts every node pod on its own machine (the pod stays Pending when the
    cluster has fewer machines than nodes); "preferred" asks the scheduler for it.
    """

    namespace: str = "yrdchain"
    image: str = "yrdchain:latest"
    storage: str = "10Gi"
    storage_class: str | None = None
    spread: str = "preferred"
    locust_workers: int = 4
    locust_users: int = 64
    locust_run_time: str = "60s"
    load_size: str = "smoke"
    load_seed: int = 1
    read_workers: ReadWorkerCounts = NO_READ_WORKERS
    """Read worker processes per node (ADR 0021): passed to the node, and its pod's CPU and
    memory scale with them (`node_resources`)."""


@dataclass(frozen=True, slots=True)
class CertificateBundle:
    """The consortium CA's certificate, one certificate per validator node (PEM) and each
    node's private key (`node.key`: the 32-byte Ed25519 seed, hex, as `yrdchain certs` writes
    it). The CA's own key is not part of a deployment."""

    ca_pem: bytes
    node_pems: tuple[tuple[str, bytes], ...]
    node_keys: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        """Names the nodes, never their keys."""
        return f"CertificateBundle(nodes={[node_id for node_id, _ in self.node_pems]})"


def key_matches_certificate(node_key: bytes, certificate_pem: bytes) -> bool:
    """Whether a `node.key` file's seed is the private half of the certificate's public key."""
    seed = bytes.fromhex(node_key.decode("ascii").strip())
    if len(seed) != 32:
        return False
    ours = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    theirs = x509.load_pem_x509_certificate(certificate_pem).public_key()
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ours.public_bytes(*raw) == theirs.public_bytes(*raw)


def load_certificate_bundle(preset: Preset, directory: Path) -> CertificateBundle:
    """The identities of `directory` as `yrdchain certs` writes them (`ca.pem`,
    `certs/<node-id>.pem`, `<node-id>/node.key`); FileNotFoundError naming the first file
    missing, ValueError naming a node whose key does not match its certificate."""
    pems = tuple((node.node_id, (directory / "certs" / f"{node.node_id}.pem").read_bytes())
                 for node in preset.nodes)
    keys = tuple((node.node_id, (directory / node.node_id / NODE_KEY_FILE_NAME).read_bytes())
                 for node in preset.nodes)
    for (node_id, pem), (_, key) in zip(pems, keys, strict=True):
        if not key_matches_certificate(key, pem):
            raise ValueError(f"{directory / node_id / NODE_KEY_FILE_NAME} does not match "
                             f"the public key of {directory / 'certs' / f'{node_id}.pem'}")
    return CertificateBundle((directory / "ca.pem").read_bytes(), pems, keys)


def generate_certificate_bundle(preset: Preset) -> CertificateBundle:
    """Fresh identities for this deployment, as `yrdchain certs` writes them (a new CA and new
    node keys from the operating system's randomness), read back; the CA key is discarded."""
    with tempfile.TemporaryDirectory(prefix="yrdchain-certs-") as directory:
        generate_identities(preset, Path(directory))
        return load_certificate_bundle(preset, Path(directory))


def _labels(preset: Preset, part: str, **extra: str) -> dict[str, str]:
    return {LABEL_APP: part, LABEL_PART_OF: f"yrdchain-{preset.name}", **extra}


def _meta(name: str, options: KubernetesOptions, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": options.namespace, "labels": labels}


def namespace_document(options: KubernetesOptions) -> dict[str, Any]:
    """The namespace every other resource lives in."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": options.namespace}}


def _secret(name: str, labels: dict[str, str], data: dict[str, bytes],
            options: KubernetesOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(name, options, labels),
            "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()}}


def certificate_secret(preset: Preset, bundle: CertificateBundle,
                       options: KubernetesOptions) -> dict[str, Any]:
    """The certificates as one Secret: `ca.pem` and `<node-id>.pem` per node (public)."""
    data = {"ca.pem": bundle.ca_pem, **{f"{node_id}.pem": pem for node_id, pem in bundle.node_pems}}
    return _secret(CERTIFICATE_SECRET, _labels(preset, "yrdchain-node"), data, options)


def node_key_secrets(preset: Preset, bundle: CertificateBundle,
                     options: KubernetesOptions) -> list[dict[str, Any]]:
    """One Secret per node holding only its `node.key`, mounted by that node's pod alone."""
    return [_secret(NODE_KEY_SECRET_PREFIX + node_id,
                    _labels(preset, "yrdchain-node", **{LABEL_NODE: node_id}),
                    {NODE_KEY_FILE_NAME: key}, options)
            for node_id, key in bundle.node_keys]


def _status_probe(period_s: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": "/status", "port": "http"}, "periodSeconds": period_s,
            "timeoutSeconds": 3, "failureThreshold": failures}


def _node_affinity(preset: Preset, options: KubernetesOptions) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {LABEL_APP: "yrdchain-node",
                                              LABEL_PART_OF: f"yrdchain-{preset.name}"}},
            "topologyKey": "kubernetes.io/hostname"}
    if options.spread == "required":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term}]}}


def node_command(preset: Preset, node_id: str, read_workers: int = 0) -> list[str]:
    """The container command of one node: peers by Service name, HTTP and the channel, and
    its read workers when it has any."""
    return ["yrdchain", "node", "--preset", preset.name, "--node-id", node_id,
            "--data-dir", "/data", "--host", "0.0.0.0", "--port", str(NODE_PORT),
            "--peer-url-template", f"http://{{node_id}}:{NODE_PORT}",
            "--peer-port", str(PEER_PORT),
            "--peer-channel-template", f"{{node_id}}:{PEER_PORT}",
            *(["--read-workers", str(read_workers)] if read_workers else [])]


def node_resources(read_workers: int) -> dict[str, dict[str, str]]:
    """A node pod's requests and limits: per process (the node and each read worker) half a
    core requested and one core at most (`PROCESS_*`, plus half a core for the node's own
    threads); memory grows with every worker."""
    processes = 1 + read_workers
    memory_request = NODE_MEMORY_REQUEST_MI + WORKER_MEMORY_REQUEST_MI * read_workers
    memory_limit = NODE_MEMORY_LIMIT_MI + WORKER_MEMORY_LIMIT_MI * read_workers
    return {"requests": {"cpu": f"{PROCESS_CPU_REQUEST_M * processes}m",
                         "memory": f"{memory_request}Mi"},
            "limits": {"cpu": f"{PROCESS_CPU_LIMIT_M * processes + NODE_THREADS_CPU_LIMIT_M}m",
                       "memory": f"{memory_limit}Mi"}}


def install_script(preset: Preset, node_id: str) -> str:
    """The init container's shell step: certificates into the network directory (`/data`),
    this node's key to `/data/<node-id>/node.key`, readable by the node's user only."""
    return ("set -e; umask 077; mkdir -p /data/certs /data/" + node_id + " && "
            "cp /certificates/ca.pem /data/ca.pem && "
            "for node in " + " ".join(n.node_id for n in preset.nodes) + "; do "
            "cp /certificates/$node.pem /data/certs/$node.pem; done && "
            f"cp /node-key/{NODE_KEY_FILE_NAME} /data/{node_id}/{NODE_KEY_FILE_NAME} && "
            f"chmod 600 /data/{node_id}/{NODE_KEY_FILE_NAME}")


def node_statefulset(preset: Preset, node_id: str, options: KubernetesOptions) -> dict[str, Any]:
    """One validator node: a single pod with its own volume claim, probed on /status."""
    city = preset.node(node_id).city.value
    workers = options.read_workers.for_preset(preset)[node_id]
    labels = _labels(preset, "yrdchain-node", **{LABEL_NODE: node_id, LABEL_CITY: city})
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": options.storage}}}
    if options.storage_class:
        claim["storageClassName"] = options.storage_class
    pod = {
        "affinity": _node_affinity(preset, options),
        "terminationGracePeriodSeconds": 20,
        "initContainers": [{
            "name": "install-identity", "image": options.image,
            "command": ["sh", "-c", install_script(preset, node_id)],
            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                             {"name": "certificates", "mountPath": "/certificates",
                              "readOnly": True},
                             {"name": "node-key", "mountPath": "/node-key",
                              "readOnly": True}]}],
        "containers": [{
            "name": "node", "image": options.image,
            "command": node_command(preset, node_id, workers),
            "ports": [{"name": "http", "containerPort": NODE_PORT},
                      {"name": "peer", "containerPort": PEER_PORT}],
            "readinessProbe": _status_probe(5, 3),
            "livenessProbe": {**_status_probe(10, 6), "initialDelaySeconds": 30},
            "startupProbe": _status_probe(5, 60),
            "resources": node_resources(workers),
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "certificates", "secret": {"secretName": CERTIFICATE_SECRET}},
                    {"name": "node-key", "secret": {
                        "secretName": NODE_KEY_SECRET_PREFIX + node_id,
                        "defaultMode": 0o400}}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _meta(node_id, options, labels),
        "spec": {
            "serviceName": node_id, "replicas": 1,
            "selector": {"matchLabels": {LABEL_NODE: node_id}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
        },
    }


def node_service(preset: Preset, node_id: str, options: KubernetesOptions) -> dict[str, Any]:
    """The node's stable name for its peers (HTTP and the peer channel); it answers before
    the pod is ready, so a node that is catching up still gets consensus traffic."""
    labels = _labels(preset, "yrdchain-node", **{LABEL_NODE: node_id})
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(node_id, options, labels),
            "spec": {"selector": {LABEL_NODE: node_id}, "publishNotReadyAddresses": True,
                     "ports": [{"name": "http", "port": NODE_PORT, "targetPort": "http"},
                               {"name": "peer", "port": PEER_PORT, "targetPort": "peer"}]}}


def api_service(preset: Preset, options: KubernetesOptions) -> dict[str, Any]:
    """Every ready node behind one name, for institutions, dashboards and Prometheus."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta("yrdchain-api", options, _labels(preset, "yrdchain-api")),
            "spec": {"selector": {LABEL_APP: "yrdchain-node",
                                  LABEL_PART_OF: f"yrdchain-{preset.name}"},
                     "ports": [{"name": "http", "port": NODE_PORT, "targetPort": "http"}]}}


def describe_run_command(preset: Preset, options: KubernetesOptions) -> list[str]:
    """Write the Locust run description (the seeded data set's grants) without loading it."""
    script = (
        "import json, pathlib\n"
        "from benchmarks.dataset import SIZES, plan_enterprises, run_description\n"
        "from chain.presets import get_preset\n"
        f"preset = get_preset({preset.name!r})\n"
        f"nodes = {{n.node_id: 'http://' + n.node_id + ':{NODE_PORT}' for n in preset.nodes}}\n"
        f"planned = plan_enterprises(preset, SIZES[{options.load_size!r}], {options.load_seed})\n"
        f"path = pathlib.Path({RUN_FILE!r})\n"
        "path.parent.mkdir(parents=True, exist_ok=True)\n"
        "path.write_text(json.dumps(run_description(preset, nodes, planned)), 'utf-8')\n")
    return ["python", "-c", script]


def load_command(preset: Preset, options: KubernetesOptions) -> list[str]:
    """Load the seeded data set into the running nodes and write the run description."""
    return ["python", "-m", "benchmarks.dataset", "--preset", preset.name, "--size",
            options.load_size, "--seed", str(options.load_seed),
            "--into", f"http://{{node_id}}:{NODE_PORT}", "--run-file", RUN_FILE]


def _locust_container(options: KubernetesOptions, name: str, arguments: list[str],
                      mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "image": options.image,
            "command": ["locust", "-f", "/app/benchmarks/locustfile.py", *arguments,
                        "QueryUser"],
            "env": [{"name": "YRD_BENCH_RUN", "value": RUN_FILE},
                    {"name": "YRD_BENCH_WORKERS", "value": str(options.locust_workers)}],
            "volumeMounts": mounts}


def load_documents(preset: Preset, options: KubernetesOptions) -> list[dict[str, Any]]:
    """Distributed Locust: the master Job (loads, then leads the run), its Service, workers."""
    master_labels = _labels(preset, "locust-master")
    worker_labels = _labels(preset, "locust-worker")
    run_mount = [{"name": "run", "mountPath": "/run/yrdchain"}]
    master = _locust_container(options, "locust-master", [
        "--master", "--headless", "--expect-workers", str(options.locust_workers),
        "-u", str(options.locust_users), "-r", str(options.locust_users),
        "-t", options.locust_run_time, "--csv", "/results/query", "--csv-full-history",
        "--html", "/results/query.html"], [*run_mount, {"name": "results",
                                                       "mountPath": "/results"}])
    master["ports"] = [{"name": "master", "containerPort": LOCUST_MASTER_PORT},
                       {"name": "web", "containerPort": LOCUST_WEB_PORT}]
    worker = _locust_container(options, "locust-worker", [
        "--worker", "--master-host", "locust-master", "--master-port",
        str(LOCUST_MASTER_PORT)], run_mount)
    spread = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": worker_labels},
                                           "topologyKey": "kubernetes.io/hostname"}}]}}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": _meta("locust-results", options, master_labels),
         "spec": {"accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": _meta("locust-master", options, master_labels),
         "spec": {"selector": master_labels, "publishNotReadyAddresses": True,
                  "ports": [{"name": "master", "port": LOCUST_MASTER_PORT,
                             "targetPort": "master"},
                            {"name": "web", "port": LOCUST_WEB_PORT, "targetPort": "web"}]}},
        {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": _meta("locust-master", options, master_labels),
         "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": master_labels}, "spec": {
             "restartPolicy": "Never",
             "initContainers": [{"name": "load-data-set", "image": options.image,
                                 "command": load_command(preset, options),
                                 "volumeMounts": run_mount}],
             "containers": [master],
             "volumes": [{"name": "run", "emptyDir": {}},
                         {"name": "results",
                          "persistentVolumeClaim": {"claimName": "locust-results"}}]}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": _meta("locust-worker", options, worker_labels),
         "spec": {"replicas": options.locust_workers,
                  "selector": {"matchLabels": worker_labels},
                  "template": {"metadata": {"labels": worker_labels}, "spec": {
                      "affinity": spread,
                      "initContainers": [{"name": "describe-run", "image": options.image,
                                          "command": describe_run_command(preset, options),
                                          "volumeMounts": run_mount}],
                      "containers": [worker],
                      "volumes": [{"name": "run", "emptyDir": {}}]}}}},
    ]


def manifest_files(preset: Preset, bundle: CertificateBundle,
                   options: KubernetesOptions) -> dict[str, list[dict[str, Any]]]:
    """File name -> the documents it holds, in apply order."""
    if options.spread not in SPREADS:
        raise ValueError(f"spread must be one of {SPREADS}, not {options.spread!r}")
    nodes: list[dict[str, Any]] = []
    for node in preset.nodes:
        nodes += [node_service(preset, node.node_id, options),
                  node_statefulset(preset, node.node_id, options)]
    return {
        "00-namespace.yaml": [namespace_document(options)],
        "10-certificates.yaml": [certificate_secret(preset, bundle, options)],
        NODE_KEYS_FILE: node_key_secrets(preset, bundle, options),
        "20-nodes.yaml": nodes,
        "30-api.yaml": [api_service(preset, options)],
        "40-load.yaml": load_documents(preset, options),
    }


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases: every document reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_documents(documents: list[dict[str, Any]]) -> str:
    """A multi-document YAML stream."""
    return yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False,
                         default_flow_style=False, width=100, allow_unicode=True)


def write_manifests(preset: Preset, out: Path, options: KubernetesOptions,
                    certificates: Path | None = None) -> list[Path]:
    """Write the manifests into `out`; identities from `certificates` (as `yrdchain certs`
    writes them) or freshly generated. The node keys' file is readable by its owner only."""
    bundle = (load_certificate_bundle(preset, certificates) if certificates is not None
              else generate_certificate_bundle(preset))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, documents in manifest_files(preset, bundle, options).items():
        path = out / name
        _write_file(path, f"# yrdchain {preset.name}: generated by `yrdchain k8s`; "
                    "see docs/kubernetes.md.\n" + render_documents(documents),
                    private=name == NODE_KEYS_FILE)
        written.append(path)
    return written


def _write_file(path: Path, text: str, private: bool) -> None:
    """Write `text`; a private file is created (or narrowed) to mode 0600 before writing."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    if private:
        os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
