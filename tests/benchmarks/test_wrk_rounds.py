"""The wrk rounds benchmark's own logic (benchmarks/wrk_rounds.py): signed request files the node
accepts, medians and same-round ratios that leave out void and saturated rounds, CPU net of the
idle nodes, and the markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import wrk_rounds
from benchmarks.wrk_lua import WrkResult
from chain.presets import get_preset
from chain.query.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_request_signature,
    recover_request_signer,
)


def wrk(per_s: float, requests: int = 1000, non_2xx: int = 0, busy: float = 50.0) -> WrkResult:
    return WrkResult(requests=requests, seconds=requests / per_s, per_s=per_s, non_2xx=non_2xx,
                     socket_errors=0, p50_ms=2.0, p90_ms=4.0, p99_ms=per_s / 100, cpu_seconds=0.5,
                     cpu_percent_of_threads=busy)


def measured(round_number: int, target: str, result: WrkResult,
             server_cpu_s: float = 1.0) -> wrk_rounds.Measured:
    return wrk_rounds.Measured(
        round_number, target, result, server_cpu_s, {"shanghai-1": server_cpu_s},
        void=result.failed_fraction > wrk_rounds.VOID_FRACTION,
        saturated=result.cpu_percent_of_threads >= wrk_rounds.SATURATED_PERCENT)


ROUNDS = [
    measured(1, "report", wrk(1000.0)), measured(1, "hardhat eth_call", wrk(500.0)),
    measured(2, "report", wrk(1200.0)), measured(2, "hardhat eth_call", wrk(400.0)),
    measured(3, "report", wrk(900.0, non_2xx=50)),  # void: 5% non-2xx
    measured(3, "hardhat eth_call", wrk(450.0)),
    measured(4, "report", wrk(800.0)), measured(4, "hardhat eth_call", wrk(800.0, busy=95.0)),
]


def test_medians_and_ratios_leave_out_void_and_saturated_rounds() -> None:
    summary = wrk_rounds.summarize(ROUNDS, recovery=100.0)
    report = summary["medians"]["report"]
    assert report["rounds_valid"] == 3
    assert report["per_s"] == 1000.0  # median of 1000, 1200, 800 (the void 900 left out)
    # 1 s of server CPU plus 0.5 s of wrk over 1000 requests: 1500 us, 15 recoveries
    assert (report["cpu_us_per_request"], report["recoveries_per_request"]) == (1500.0, 15.0)
    assert summary["medians"]["hardhat eth_call"]["rounds_valid"] == 4
    # rounds 1 and 2 only: round 3's report is void, round 4's peer generator saturated
    assert summary["ratios"]["report / hardhat eth_call"] == 2.5  # median of 2.0 and 3.0
    assert summary["ratios"]["report / ganache eth_call"] is None


def test_report_cpu_net_of_what_idle_nodes_burn() -> None:
    net = wrk_rounds._net_of_idle(ROUNDS, {"shanghai-1": 0.1}, recovery=100.0)
    # per valid report round: 1500 us minus 0.1 s/s x 1 s / 1000 requests = 1400 us
    assert net == {"cpu_us": 1400.0, "recoveries": 14.0}


def test_the_summary_renders_every_target_and_ratio() -> None:
    report = {"date": "2026-01-01", "machine": "a machine", "load_average_start": [1.0],
              "load_average_end": [1.5], "rounds": 4, "seconds": 5.0, "recovery_us": 100.0,
              "remote_enterprise_fraction": 0.75, "idle_node_cpu_per_s": {"shanghai-1": 0.1},
              "report_cpu_us_net_of_idle": wrk_rounds._net_of_idle(ROUNDS, {}, 100.0),
              "at_80_percent": None, **wrk_rounds.summarize(ROUNDS, 100.0)}
    json.dumps(report)  # the report goes to a .json file as well
    text = wrk_rounds.render(report)
    assert "| report | 3 | 1000.0 |" in text
    assert "| report / hardhat eth_call | 2.5 |" in text
    assert "| report / ganache eth_call | none (void or saturated) |" in text
    assert "75% of the" in text and "net of it: 1500.0 us = 15.0 recoveries" in text


def test_signed_report_lines_carry_distinct_nonces_the_bank_signed(tmp_path: Path) -> None:
    path = tmp_path / "signed.txt"
    codes = ["91310000MA1FL8L1X1", "91320100MA1MXXXX0K"]
    wrk_rounds.write_signed_reports(path, "shanghai-1", codes, 5)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    preset = get_preset(wrk_rounds.PRESET)
    nonces = set()
    for index, line in enumerate(lines):
        method, target, pairs, body = line.split("\t")
        assert (method, body) == ("GET", "")
        assert target == f"/v1/enterprises/{codes[index % 2]}/report"
        headers = dict(pair.split(":", 1) for pair in pairs.split("|"))
        signed = parse_request_signature(headers[TIMESTAMP_HEADER], headers[NONCE_HEADER],
                                         headers[SIGNATURE_HEADER])
        nonces.add(signed.nonce)
        assert recover_request_signer(preset.chain_id, "shanghai-1", "GET", target,
                                      signed) == preset.key(wrk_rounds.BANK).address
    assert len(nonces) == 5


def test_eth_call_lines_are_json_rpc_posts() -> None:
    line = wrk_rounds.eth_call_line("/rpc", bytes(range(20)), b"\x01\x02")
    method, path, pairs, body = line.rstrip("\n").split("\t")
    assert (method, path, pairs) == ("POST", "/rpc", "Content-Type:application/json")
    assert json.loads(body)["params"] == [{"to": "0x" + bytes(range(20)).hex(),
                                           "data": "0x0102"}, "latest"]
