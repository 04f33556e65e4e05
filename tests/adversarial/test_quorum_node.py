"""Real node processes over the wire: local4 without one node, a quorum that keeps committing.

Against it: the small edge answers (`edge_answers`), the adversarial battery over HTTP
(`remote_battery`), the gas bombs against members' contracts (`gas_bombs`), and the seeded
peer-channel fuzzer (`peer_fuzzer`), which speaks on the target's
mutual-TLS channel as the absent node, and the same absent node, a partner of the target's
payload duty, trying to fill its disk with payloads no record refers to (`payload_flood`).
`make chaos` runs the peer fuzzer for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain.presets import get_preset
from chain.records import CreditRecord, RecordKind
from nodes.client import Institution, NodeClient
from nodes.cluster.network import NetworkProcess, find_free_base_port
from tests.adversarial.edge_answers import check_edge_answers
from tests.adversarial.gas_bombs import run_gas_bombs
from tests.adversarial.payload_flood import flood_partner_payloads
from tests.adversarial.peer_fuzzer import PeerTarget, check_unchanged, fuzz_peer_channel
from tests.adversarial.remote_battery import run_battery
from tests.adversarial.single_node import PRESET_NAME, network_without

pytestmark = pytest.mark.slow
SEED = 20_261_201
PEER_CASES = 150
ABSENT = "hangzhou-1"  # the fuzzer speaks as this node: it dials the target
TARGET = "nanjing-1"  # accepts the absent node's connections
DIALER = "shanghai-1"  # the target dials it, so must refuse its connections


@pytest.fixture(scope="module")
def quorum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Path, dict[str, NetworkProcess]]]:
    data_dir: Path = tmp_path_factory.mktemp("quorum")
    with network_without(data_dir, find_free_base_port(4), ABSENT) as running:
        wait_for_first_block(running[TARGET].config.url)
        yield data_dir, running


def wait_for_first_block(url: str, timeout_s: float = 30.0) -> None:
    """Chain time is the head block's: until the first block it is genesis's (2020), and a grant
    that expired an hour ago would not have expired yet. The first heartbeat comes within 5 s."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/status", timeout=5).json()["height"] < 1:
        assert time.monotonic() < deadline, f"no block at {url} within {timeout_s:g} s"
        time.sleep(0.2)


def test_edge_answers_are_right_on_a_real_node(
        quorum: tuple[Path, dict[str, NetworkProcess]]) -> None:
    _, running = quorum
    results = check_edge_answers(running[TARGET].config.url)
    assert len(results) >= 10
    assert {name: problem for name, problem in results.items() if problem is not None} == {}


def test_the_battery_over_http_is_refused_and_changes_nothing(
        quorum: tuple[Path, dict[str, NetworkProcess]]) -> None:
    _, running = quorum
    report = run_battery(running[TARGET].config.url, get_preset(PRESET_NAME))
    print(f"battery over HTTP: {report.summary()}")
    assert report.cases >= 200
    assert report.failures == [], "\n".join(report.failures[:20])


def test_gas_bombs_are_refused_or_stopped_at_the_caps(
        quorum: tuple[Path, dict[str, NetworkProcess]]) -> None:
    _, running = quorum
    report = run_gas_bombs(running[TARGET].config.url, get_preset(PRESET_NAME))
    print(f"gas bombs: {report.cases} cases, {len(report.failures)} failures")
    assert report.failures == []
    assert report.cases >= 20


def test_peer_channel_fuzz_reaches_nothing_and_the_node_commits_on(
        quorum: tuple[Path, dict[str, NetworkProcess]]) -> None:
    data_dir, running = quorum
    node = running[TARGET]
    start = int(httpx.get(f"{node.config.url}/status", timeout=5).json()["height"])
    target = PeerTarget(node.config.url, ("127.0.0.1", node.config.peer_port), data_dir,
                        ABSENT, DIALER)
    report = fuzz_peer_channel(target, get_preset(PRESET_NAME), SEED, cases=PEER_CASES)
    print(f"peer fuzz: {report.summary()}")
    assert report.failures == [], report.failures[:10]
    assert report.cases == PEER_CASES + report.refused_cases
    assert report.refused_cases == 6
    assert report.answers.get("refused", 0) > 0  # malformed requests got a refusal, not silence
    assert report.frames_received > 0  # the authenticated channel was really up
    urls = [node.config.url] + [m.config.url for n, m in running.items() if n != TARGET]
    assert check_unchanged(urls, start) == []
    assert all(member.process is not None and member.process.poll() is None
               for member in running.values())


def test_a_partner_cannot_fill_the_node_s_disk_with_unreferenced_payloads(
        quorum: tuple[Path, dict[str, NetworkProcess]]) -> None:
    data_dir, running = quorum
    node = running[TARGET]
    preset = get_preset(PRESET_NAME)
    client = NodeClient(node.config.url)
    bureau = Institution(preset.key("bureau:nanjing"), client)
    record = CreditRecord(preset.enterprise("enterprise:nanjing:1").credit_code, RecordKind.TAX,
                          "2024", {"paid_cny": 7, "grade": "B"})
    published = bureau.publish(record)
    client.wait_committed(published.transaction_hash)
    target = PeerTarget(node.config.url, ("127.0.0.1", node.config.peer_port), data_dir,
                        ABSENT, DIALER)
    failures = flood_partner_payloads(target, TARGET, preset, SEED, published.record_id)
    assert failures == []
    client.close()
