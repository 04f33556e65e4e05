"""Read workers on real processes: local4 with hangzhou-1 serving reports from 2 workers.

Reports answered by each worker verify (payloads fetched from Shanghai, the origin, over the
worker's own read connection, not the node's); a signed request answered by one worker and
replayed through the other (or through the node itself) is refused by the node's one replay
guard; bad requests get the node's refusals; writes, JSON-RPC (`eth_call` answered by the
worker, mempool reads by the node), a WebSocket subscription and the dashboard's event stream
work through a worker; a worker killed is restarted by its node; an audit entry a worker
acknowledged is in the node's journal after `kill -9` of the node, whose workers die with it,
and the restarted node's workers serve again (ADR 0021).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as websocket_connect

from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from contracts import bindings
from nodes.api.services import AUDIT_FILE_NAME
from nodes.client import Enterprise, Institution, NodeClient
from nodes.cluster.network import start_node, stop_node, wait_ready
from nodes.query.audit import AuditLog
from tests.e2e.network import RunningNetwork, running_network

pytestmark = pytest.mark.slow
NODE = "hangzhou-1"
WORKERS = 2
ENTERPRISE = "enterprise:shanghai:1"
WORKER_HEADER = "x-yrd-read-worker"
WAIT_S = 60.0
CONNECT_ATTEMPTS = 200


@dataclass
class Scene:
    """The network, the answering node's client, and who queries whom."""

    network: RunningNetwork
    node: NodeClient
    bank: Institution
    path: str


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    data_dir: Path = tmp_path_factory.mktemp("workers")
    with running_network("local4", data_dir, read_workers={NODE: WORKERS}) as network:
        preset = network.preset
        shanghai = NodeClient(network.url("shanghai-1"))
        node = NodeClient(network.url(NODE))
        spec = preset.enterprise(ENTERPRISE)
        bureau = Institution(preset.key("bureau:shanghai"), shanghai)
        bank = Institution(preset.key("bank:hangzhou"), node)
        enterprise = Enterprise(preset.key(spec.label), spec.credit_code, shanghai)
        published = bureau.publish(CreditRecord(spec.credit_code, RecordKind.TAX, "2024",
                                                {"paid_cny": 1_000_000, "grade": "A"}))
        shanghai.wait_committed(published.transaction_hash)
        node.wait_committed(published.transaction_hash)
        expires_at_s = int(time.time()) + 3_600
        signature, nonce = enterprise.sign_grant(bank.address, expires_at_s)
        node.wait_committed(bank.submit_grant(spec.credit_code, signature, ALL_KINDS_SCOPE,
                                              expires_at_s, nonce))
        scene = Scene(network, node, bank, f"/v1/enterprises/{spec.credit_code.code}/report")
        for worker in range(1, WORKERS + 1):
            connection_to(scene, str(worker)).close()  # every worker is up
        yield scene
        shanghai.close()
        node.close()


def connection_to(scene: Scene, worker: str | None) -> httpx.Client:
    """A client whose one keep-alive connection landed on `worker` (None: the node itself)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        client = httpx.Client(base_url=scene.node.url, timeout=10.0,
                              limits=httpx.Limits(max_connections=1))
        try:
            if client.get("/status").headers.get(WORKER_HEADER) == worker:
                return client
        except httpx.HTTPError:
            time.sleep(0.2)
        client.close()
    raise AssertionError(f"no connection reached read worker {worker} in {WAIT_S:g} s")


def worker_pids(scene: Scene) -> set[int]:
    """The node's worker processes (its children)."""
    member = next(m for m in scene.network.members if m.config.node_id == NODE)
    assert member.process is not None
    pid = member.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in children.read_text().split()} if children.exists() else set()


def report_through(scene: Scene, client: httpx.Client, headers: dict[str, str] | None = None
                   ) -> httpx.Response:
    signed = headers or scene.node.signed_headers(scene.bank.key, scene.path)
    return client.get(scene.path, headers=signed)


def metric(scene: Scene, name: str) -> float:
    """One unlabelled counter of the node's process (`/metrics` is answered by the writer)."""
    for line in httpx.get(scene.node.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in /metrics")


def test_each_worker_answers_reports_that_verify(scene: Scene) -> None:
    writer_fetches = metric(scene, "yrd_payload_remote_fetches_total")
    for worker in ("1", "2"):
        with closing(connection_to(scene, worker)) as client:
            for _ in range(3):
                answer = report_through(scene, client)
                assert answer.status_code == 200, answer.text
                assert answer.headers[WORKER_HEADER] == worker
                report = answer.json()
                assert report["node"]["node_id"] == NODE
                assert report["summary"]["verified"] == report["summary"]["records"] >= 1
                item = report["records"][0]
                assert item["payload_status"] == "verified"
                assert item["provenance"]["origin_node"] == "shanghai-1"
                assert report["audit_entry"].startswith(NODE + ".")
    # the workers fetched Shanghai's payloads over their own read connections
    assert metric(scene, "yrd_payload_remote_fetches_total") == writer_fetches


REPORTS_OK = re.compile(r'^yrd_api_requests_total\{(?P<labels>[^}]*outcome="ok",'
                        r'route="report"[^}]*)\} (?P<value>\S+)$', re.MULTILINE)


def reports_by_process(text: str) -> dict[str, float]:
    """Answered reports in a scrape, by process: "node" or the worker's index."""
    found: dict[str, float] = {}
    for match in REPORTS_OK.finditer(text):
        worker = re.search(r'worker="(\d+)"', match.group("labels"))
        found[worker.group(1) if worker else "node"] = float(match.group("value"))
    return found


def scrape_through(scene: Scene, process: str | None) -> str:
    with closing(connection_to(scene, process)) as client:
        answer = client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers.get(WORKER_HEADER) == process
        return answer.text


def test_one_scrape_through_any_process_shows_every_process_s_reports(scene: Scene) -> None:
    before = reports_by_process(scrape_through(scene, None))
    per_process = 4
    for process in (None, "1", "2"):
        with closing(connection_to(scene, process)) as client:
            for _ in range(per_process):
                assert report_through(scene, client).status_code == 200
            answer = client.post("/rpc", json={"jsonrpc": "2.0", "id": 1,
                                               "method": "eth_chainId"})
            assert answer.headers.get(WORKER_HEADER) == process and "result" in answer.json()
    total = sum(before.values()) + 3 * per_process
    for process in (None, "1", "2"):
        text = scrape_through(scene, process)
        seen = reports_by_process(text)
        assert sum(seen.values()) == total, (process, seen)
        for name in ("node", "1", "2"):
            assert seen[name] == before.get(name, 0) + per_process, (name, seen)
        assert re.search(r'^yrd_api_request_seconds_count\{code="200",method="GET",'
                         r'node="hangzhou-1",route="/v1/enterprises/\{credit_code\}/report",'
                         r'worker="1"\} [1-9]', text, re.MULTILINE)
        assert re.search(r'^process_cpu_seconds_total\{node="hangzhou-1",worker="2"\} ', text,
                         re.MULTILINE)
        for worker in ("1", "2"):  # JSON-RPC a worker answered itself is in its histogram
            assert re.search(r'^yrd_api_request_seconds_count\{code="200",method="POST",'
                             rf'node="hangzhou-1",route="/rpc",worker="{worker}"\}} [1-9]',
                             text, re.MULTILINE), worker
        labels = set(re.findall(r'([a-z_]+)="', text))
        assert not labels & {"querier", "enterprise", "credit_code", "institution"}, labels


def test_a_request_replayed_through_another_worker_is_refused(scene: Scene) -> None:
    first, second = connection_to(scene, "1"), connection_to(scene, "2")
    node_itself = connection_to(scene, None)
    try:
        for answering, replaying in ((first, second), (second, first)):
            signed = scene.node.signed_headers(scene.bank.key, scene.path)
            assert report_through(scene, answering, signed).status_code == 200
            for again in (replaying, node_itself, answering):
                refused = report_through(scene, again, signed)
                assert refused.status_code == 401, refused.text
                assert refused.json()["error"] == "replayed_request"
                assert refused.json()["field"] == "x-yrd-nonce"
        signed = scene.node.signed_headers(scene.bank.key, scene.path)
        assert report_through(scene, node_itself, signed).status_code == 200
        assert report_through(scene, first, signed).json()["error"] == "replayed_request"
    finally:
        for client in (first, second, node_itself):
            client.close()


def test_bad_requests_through_a_worker_get_the_same_refusals(scene: Scene) -> None:
    with closing(connection_to(scene, "1")) as worker, \
            closing(connection_to(scene, None)) as node_itself:
        for client in (worker, node_itself):
            stale = scene.node.signed_headers(scene.bank.key, scene.path)
            stale["x-yrd-timestamp"] = str(int(stale["x-yrd-timestamp"]) - 120_000)
            answer = report_through(scene, client, stale)
            assert (answer.status_code, answer.json()["field"]) == (401, "x-yrd-timestamp")
            unsigned = client.get(scene.path)
            assert unsigned.status_code == 401 and unsigned.json()["error"] == "unauthenticated"
        outsider = scene.network.preset.key("bank:nanjing")
        answers = [report_through(scene, client,
                                  scene.node.signed_headers(outsider, scene.path)).json()
                   for client in (worker, node_itself)]
        assert answers[0] == answers[1] and answers[0]["error"] == "consent_missing"


def test_writes_and_status_through_a_worker_reach_the_node(scene: Scene) -> None:
    with closing(connection_to(scene, "2")) as worker:
        status = worker.get("/status")
        assert status.status_code == 200 and status.json()["node_id"] == NODE
        refused = worker.post("/v1/transactions", content=b"{not json",
                              headers={"content-type": "application/json"})
        assert refused.status_code in (400, 422) and "error" in refused.json()


def test_json_rpc_reads_through_a_worker_match_the_node(scene: Scene) -> None:
    enterprise = scene.network.preset.enterprise(ENTERPRISE).credit_code.to_bytes32()
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [
        {"to": "0x" + scene.node.contracts().registry.hex(),
         "data": "0x" + bindings.encode_record_count(enterprise).hex()}, "latest"]}
    bad = {"jsonrpc": "2.0", "id": 2, "method": "eth_call", "params": [{"to": "0x12"}]}
    pending = {"jsonrpc": "2.0", "id": 3, "method": "eth_getTransactionCount",
               "params": ["0x" + scene.bank.address.hex(), "pending"]}
    with closing(connection_to(scene, "1")) as worker, \
            closing(connection_to(scene, None)) as node_itself:
        for body in (call, [call, {**call, "id": 4}], bad, [call, pending], pending):
            here, there = worker.post("/rpc", json=body), node_itself.post("/rpc", json=body)
            assert here.headers[WORKER_HEADER] == "1"
            assert (here.status_code, here.json()) == (there.status_code, there.json())
        served_by_node = rpc_requests_at_node(scene)
        assert int(worker.post("/rpc", json=call).json()["result"], 16) >= 1
        assert "error" in worker.post("/rpc", json=bad).json()
        assert rpc_requests_at_node(scene) == served_by_node  # the worker answered both
        worker.post("/rpc", json=pending)
        assert rpc_requests_at_node(scene) == served_by_node + 1  # the mempool's is the node's


def rpc_requests_at_node(scene: Scene) -> float:
    """`POST /rpc` requests the node's process answered (its latency histogram's count)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in httpx.get(
        scene.node.url + "/metrics", timeout=10).text.splitlines()
        if line.startswith("yrd_api_request_seconds_count") and 'route="/rpc"' in line
        and 'worker="' not in line)  # the workers' samples carry their index


def test_websockets_and_event_streams_through_a_worker_reach_the_node(scene: Scene) -> None:
    ws_url = scene.node.url.replace("http://", "ws://") + "/ws"
    deadline = time.monotonic() + WAIT_S
    while True:  # a connection the kernel gave to a worker
        socket = websocket_connect(ws_url, open_timeout=10)
        if socket.response.headers.get(WORKER_HEADER):
            break
        socket.close()
        assert time.monotonic() < deadline, "no WebSocket reached a read worker"
    with socket:
        socket.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_subscribe",
                                "params": ["newHeads"]}))
        subscribed = json.loads(socket.recv(timeout=10))
        assert subscribed["id"] == 7 and subscribed["result"].startswith("0x")
        head = json.loads(socket.recv(timeout=30))  # anchors commit blocks every second
        assert head["method"] == "eth_subscription"
        assert head["params"]["subscription"] == subscribed["result"]
    with closing(connection_to(scene, "2")) as worker, worker.stream(
            "GET", "/dashboard/events", timeout=httpx.Timeout(10.0)) as events:
        assert events.status_code == 200 and events.headers[WORKER_HEADER] == "2"
        assert events.headers["content-type"].startswith("text/event-stream")
        assert next(events.iter_lines(), None) is not None


def test_a_killed_worker_is_restarted(scene: Scene) -> None:
    before = worker_pids(scene)
    assert len(before) == WORKERS
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        now = worker_pids(scene)
        if len(now) == WORKERS and victim not in now:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"worker {victim} was not replaced: {worker_pids(scene)}")
    for worker in ("1", "2"):
        with closing(connection_to(scene, worker)) as client:
            assert report_through(scene, client).status_code == 200


def test_an_acknowledged_audit_entry_survives_kill_9_of_the_node(scene: Scene) -> None:
    with closing(connection_to(scene, "2")) as worker:
        answer = report_through(scene, worker)
    assert answer.status_code == 200 and answer.headers[WORKER_HEADER] == "2"
    entry_id = answer.json()["audit_entry"]
    workers = worker_pids(scene)
    member = next(m for m in scene.network.members if m.config.node_id == NODE)
    stop_node(member, kill=True)  # SIGKILL right after the answer
    deadline = time.monotonic() + WAIT_S
    while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "the workers outlived their node"
        time.sleep(0.1)
    journal = AuditLog(NODE, member.config.data_dir / AUDIT_FILE_NAME)
    try:
        assert entry_id in {entry.entry_id for entry in journal.entries.values()}
    finally:
        journal.close()
    start_node(member, scene.network.data_dir / "logs" if scene.network.data_dir else None)
    wait_ready([member])
    with closing(connection_to(scene, "1")) as client:
        again = report_through(scene, client)
        assert again.status_code == 200
        sequence = int(again.json()["audit_entry"].rsplit(".", 1)[1])
        assert sequence > int(entry_id.rsplit(".", 1)[1])


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
