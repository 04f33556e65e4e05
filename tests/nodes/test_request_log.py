"""A node's log: a line per committed block and per refused request, none for a hang-up."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from chain.genesis import Genesis
from chain.presets import Preset
from nodes.api.request_log import FIELDS, RefusalBudget, RequestLog, refusal_level
from nodes.cli.logs import StructuredFormatter
from tests.nodes.api_node import make_api_node, tax_record


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [dict(getattr(record, FIELDS), level=record.levelname)
            for record in caplog.records if record.getMessage() == name]


def test_commit_and_refusals_are_one_line_each(preset: Preset, genesis: Genesis,
                                               tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    node = make_api_node(preset, genesis, tmp_path)
    caplog.set_level(logging.INFO, logger="yrdchain.node")
    answer = node.client.post("/v1/records", json=node.publish_body(
        "bureau:shanghai", tax_record(preset, "enterprise:shanghai:1")))
    assert answer.status_code == 202
    committed = node.commit()
    [commit] = events(caplog, "commit")
    assert commit == {"node": "shanghai-1", "height": committed.block.height,
                      "hash": "0x" + committed.block.hash.hex(), "proposer": "shanghai-1",
                      "transactions": 1, "reverted": 0,
                      "gas_used": committed.block.header.gas_used, "level": "INFO"}
    assert events(caplog, "refused") == []

    assert node.client.post("/v1/transactions", json={"raw": "0x12"}).status_code == 400
    assert node.client.get("/v1/enterprises/not-a-code").status_code in (400, 404)
    answer = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_nothing",
                                            "params": []})
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32601
    assert node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 2, "method": "eth_chainId",
                                          "params": []}).json()["result"]
    refused = events(caplog, "refused")
    assert len(refused) == 3
    assert refused[2]["path"] == "/rpc" and refused[2]["rpc_code"] == -32601
    assert refused[2]["status"] == 200 and "eth_nothing" in refused[2]["message"]
    assert refused[0]["method"] == "POST" and refused[0]["path"] == "/v1/transactions"
    assert refused[0]["status"] == 400 and refused[0]["error"] and refused[0]["level"] == "INFO"
    assert refused[1]["path"] == "/v1/enterprises/not-a-code"


def test_levels_follow_the_status() -> None:
    assert refusal_level(403) == logging.INFO
    assert refusal_level(429) == logging.WARNING
    assert refusal_level(503) == logging.ERROR


def test_a_flood_of_refusals_is_counted_not_written(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="yrdchain.node")
    budget = RefusalBudget(limit_per_s=3)
    assert [budget.take(100.1) for _ in range(5)] == [True, True, True, False, False]
    assert events(caplog, "refused_suppressed") == []
    assert budget.take(101.0)
    [summary] = events(caplog, "refused_suppressed")
    assert summary["count"] == 2 and summary["level"] == "WARNING"


def test_a_client_that_hangs_up_is_one_quiet_line(caplog: pytest.LogCaptureFixture) -> None:
    async def hung_up(scope: Any, receive: Any, send: Any) -> None:
        raise ClientDisconnect()

    async def never(message: Any) -> None:
        raise AssertionError("nothing is sent to a client that left")

    caplog.set_level(logging.INFO, logger="yrdchain.node")
    middleware = RequestLog(hung_up, node_id="hefei-1")
    asyncio.run(middleware({"type": "http", "method": "POST", "path": "/rpc"},
                           lambda: asyncio.sleep(0), never))
    assert events(caplog, "disconnect") == [
        {"node": "hefei-1", "method": "POST", "path": "/rpc", "level": "INFO"}]
    assert not any(record.exc_info for record in caplog.records)


def test_lines_render_as_key_values_or_json() -> None:
    record = logging.LogRecord("yrdchain.node", logging.WARNING, __file__, 1, "refused", None,
                               None)
    setattr(record, FIELDS, {"node": "nanjing-1", "path": "/v1/x y", "status": 429})
    text = StructuredFormatter().format(record)
    assert text.endswith(' WARNING refused node=nanjing-1 path="/v1/x y" status=429')
    assert text[:4].isdigit() and "T" in text.split()[0] and text.split()[0].endswith("Z")
    document = json.loads(StructuredFormatter(as_json=True).format(record))
    assert document["event"] == "refused" and document["level"] == "WARNING"
    assert document["status"] == 429 and document["node"] == "nanjing-1"
    plain = logging.LogRecord("nodes.x", logging.INFO, __file__, 1, "serving %s", ("here",),
                              None)
    assert StructuredFormatter().format(plain).endswith(" INFO nodes.x serving here")
