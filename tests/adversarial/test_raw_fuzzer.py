"""The raw-bytes fuzzer against a real node process: fixed seed, fixed number of cases.

The node must answer `/status` after every case and never answer a case with a 5xx (503, the
connection cap, excepted). `make chaos` runs the same fuzzer for ten minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain.crypto import keccak
from chain.presets import get_preset
from nodes.cluster.network import NetworkProcess
from tests.adversarial.raw_fuzzer import PeerFrames, fuzz
from tests.adversarial.single_node import single_node

pytestmark = pytest.mark.slow
BASE_PORT = 27_110
SEED = 20_261_130
CASES = 300


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkProcess]:
    data_dir: Path = tmp_path_factory.mktemp("fuzzed")
    with single_node(data_dir, BASE_PORT) as member:
        yield member


def test_the_node_survives_and_answers_every_fuzz_case(node: NetworkProcess) -> None:
    report = fuzz(node.config.url, SEED, cases=CASES)
    assert report.cases == CASES
    assert report.failures == [], report.failures[:5]
    assert report.answered > CASES // 2, report.summary()  # most cases reach an answer
    assert node.process is not None and node.process.poll() is None
    status = httpx.get(f"{node.config.url}/status", timeout=5).json()
    assert status["height"] == 0  # alone, the node commits nothing
    # Only the fuzzer's unmutated, validly signed seed transactions may be pending: no mutated
    # frame got in.
    seeds = PeerFrames(get_preset("local4")).transactions
    pending = [keccak(raw) for raw in seeds if httpx.get(
        f"{node.config.url}/v1/transactions/0x{keccak(raw).hex()}", timeout=5).status_code == 200]
    assert status["mempool"] == len(pending)
