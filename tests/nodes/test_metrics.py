"""/metrics: a latency histogram for every route, commit latency, process metrics, build info;
`promtool check metrics` finds nothing to say (Debian's `prometheus` package ships promtool;
`make test` installs it and sets YRD_REQUIRE_TOOLS=1, so a missing promtool fails there)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chain.genesis import Genesis
from chain.presets import Preset
from nodes.api.metrics import Metric, RequestMetrics, render
from nodes.api.worker_metrics import decode_families, encode_families, worker_families
from nodes.runtime.histogram import COMMIT_BUCKETS_S, Histogram
from tests.nodes.api_node import ApiNode, make_api_node, tax_record
from tests.tools import missing_tool

SHANGHAI_CODE = "91310115000010014X"
PROMTOOL_TIMEOUT_S = 30


@pytest.fixture
def node(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path)


def scrape(node: ApiNode) -> str:
    response = node.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def count_of(text: str, route: str, method: str, code: str) -> int:
    pattern = (rf'^yrd_api_request_seconds_count\{{code="{code}",method="{method}",'
               rf'node="shanghai-1",route="{re.escape(route)}"\}} (\d+)$')
    found = re.search(pattern, text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def test_every_route_has_a_latency_histogram(node: ApiNode) -> None:
    report = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    node.client.get(report, headers=node.signed_headers("bank:hangzhou", report))
    node.client.get("/status")
    node.client.get("/v1/blocks/0")
    node.client.get("/v1/blocks/1")
    node.client.get("/no/such/route/0x1234")
    node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    text = scrape(node)
    assert count_of(text, "/v1/enterprises/{credit_code}/report", "GET", "403") == 1
    assert count_of(text, "/status", "GET", "200") == 1
    assert count_of(text, "/v1/blocks/{height}", "GET", "200") == 1
    assert count_of(text, "/v1/blocks/{height}", "GET", "404") == 1
    assert count_of(text, "unmatched", "GET", "404") == 1
    assert count_of(text, "/rpc", "POST", "200") == 1
    assert "0x1234" not in text  # raw paths never become labels
    assert re.search(r'yrd_api_request_seconds_bucket\{code="200",le="\+Inf",method="GET",'
                     r'node="shanghai-1",route="/status"\} 1', text)
    assert 'yrd_api_requests_total{node="shanghai-1",outcome="consent_missing",route="report"} 1' \
        in text


def test_commit_latency_process_metrics_and_build_info(node: ApiNode) -> None:
    node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(node.preset, "enterprise:shanghai:1")))
    node.runtime.metrics.commit_latency.observe(0.4)
    text = scrape(node)
    assert re.search(r'^yrd_commit_latency_seconds_bucket\{le="0\.5",node="shanghai-1"\} 1$',
                     text, re.MULTILINE)
    assert "# TYPE yrd_commit_latency_seconds histogram" in text
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "process_max_fds", "process_start_time_seconds"):
        value = re.search(rf'^{name}\{{node="shanghai-1"\}} (\S+)$', text, re.MULTILINE)
        assert value and float(value.group(1)) > 0, name
    assert re.search(r'^yrd_build_info\{node="shanghai-1",python="[0-9.]+",version="[^"]+"\} 1$',
                     text, re.MULTILINE)


def test_histograms_are_cumulative_and_labels_escaped() -> None:
    histogram = Histogram(COMMIT_BUCKETS_S)
    for seconds in (0.01, 0.3, 0.3, 100.0):
        histogram.observe(seconds)
    text = render([Metric("x_seconds", "histogram", "h.", (({"path": 'a"b\\c'}, histogram),))],
                  {})
    assert 'x_seconds_bucket{le="0.05",path="a\\"b\\\\c"} 1' in text
    assert 'x_seconds_bucket{le="0.35",path="a\\"b\\\\c"} 3' in text
    assert 'x_seconds_bucket{le="+Inf",path="a\\"b\\\\c"} 4' in text
    assert 'x_seconds_count{path="a\\"b\\\\c"} 4' in text


def test_promtool_finds_nothing_to_report(node: ApiNode, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_tool("promtool is not installed (Debian's prometheus: make promtool)")
    report = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    node.client.get(report, headers=node.signed_headers("bank:hangzhou", report))
    node.client.get("/status")
    node.runtime.metrics.commit_latency.observe(0.2)
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape(node), text=True,
                             capture_output=True, timeout=PROMTOOL_TIMEOUT_S, check=False)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr)


def test_read_workers_samples_join_the_node_s_families_labelled_by_worker(
        node: ApiNode, tmp_path: Path) -> None:
    """What a worker sends over the writer link (encoded, decoded) is rendered in the node's
    own families, each sample labelled `worker`, and promtool accepts the result."""
    services = node.services
    worker_requests = RequestMetrics()
    worker_requests.count("report", "ok")
    worker_requests.count("report", "ok")
    worker_requests.count("report", "replayed_request")
    worker_requests.observe("GET", "/v1/enterprises/{credit_code}/report", 200, 0.003)
    worker_requests.observe("GET", "/v1/enterprises/{credit_code}/report", 200, 0.004)
    sent = encode_families(worker_families(2, worker_requests, services.verifier,
                                           services.consent, services.payloads))

    async def from_workers() -> list[Metric]:
        return decode_families(sent)

    services.worker_metrics = from_workers
    report = f"/v1/enterprises/{SHANGHAI_CODE}/report"
    node.client.get(report, headers=node.signed_headers("bank:hangzhou", report))
    text = scrape(node)
    assert text.count("# TYPE yrd_api_requests_total counter") == 1
    assert ('yrd_api_requests_total{node="shanghai-1",outcome="ok",route="report",worker="2"} 2'
            in text)
    assert ('yrd_api_requests_total{node="shanghai-1",outcome="replayed_request",'
            'route="report",worker="2"} 1' in text)
    assert re.search(r'^yrd_api_request_seconds_count\{code="200",method="GET",node="shanghai-1",'
                     r'route="/v1/enterprises/\{credit_code\}/report",worker="2"\} 2$', text,
                     re.MULTILINE)
    assert re.search(r'^process_cpu_seconds_total\{node="shanghai-1",worker="2"\} ', text,
                     re.MULTILINE)
    assert count_of(text, "/v1/enterprises/{credit_code}/report", "GET", "403") == 1  # own
    with pytest.raises(ValueError):
        decode_families(b'[{"name": "x"}]')
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_tool("promtool is not installed (Debian's prometheus: make promtool)")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                             capture_output=True, timeout=PROMTOOL_TIMEOUT_S, check=False)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr
