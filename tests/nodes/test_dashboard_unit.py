"""The dashboard's pure parts: topology, link plans, SSE framing, events from receipts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.crypto import keccak
from chain.execution import Log, Receipt
from chain.presets import get_preset
from contracts import bindings
from contracts.events import EVENT_LAYOUTS
from nodes.dashboard.burst import query_pairs, report_summary
from nodes.dashboard.events import (
    MAX_CHAIN_EVENTS_PER_BLOCK,
    Directory,
    audit_node_ids,
    chain_events,
    enterprise_city,
)
from nodes.dashboard.model import (
    EVENT_TYPES,
    build_topology,
    decode_sse_lines,
    encode_sse,
    event_key,
    partition_plan,
    slow_plan,
)
from nodes.dashboard.routes import STATIC_DIRECTORY, STATIC_FILES, replay_page

YRD_2021 = get_preset("yrd-2021")
SHANGHAI_CODE = YRD_2021.enterprise("enterprise:shanghai:1").credit_code.code
BUREAU_NANJING = YRD_2021.key("bureau:nanjing").address
BANK_HANGZHOU = YRD_2021.key("bank:hangzhou").address


def _log(event_class: type[bindings.Event], **values: object) -> Log:
    """A log as the contract would emit it, encoded from keyword values."""
    from eth_abi.abi import encode

    layout = EVENT_LAYOUTS[event_class]
    topics = [layout.topic]
    data_types, data_values = [], []
    for field in layout.fields:
        value = values[field.name]
        if field.abi_type == "address":
            value = "0x" + bytes(value).hex()  # type: ignore[arg-type]
        if field.indexed:
            topics.append(encode([field.abi_type], [value]))
        else:
            data_types.append(field.abi_type)
            data_values.append(value)
    return Log(address=b"\x00" * 20, topics=tuple(topics), data=encode(data_types, data_values))


def _receipt(*logs: Log, status: int = 1, tag: bytes = b"t") -> Receipt:
    return Receipt(transaction_hash=keccak(tag), status=status, gas_used=1,
                   cumulative_gas_used=1, logs=logs)


DIRECTORY = Directory(
    member=lambda address: {BUREAU_NANJING: ("nanjing", "Nanjing Credit Bureau"),
                            BANK_HANGZHOU: ("hangzhou", "Hangzhou Commercial Bank")}.get(address),
    record=lambda record_id: (SHANGHAI_CODE, "nanjing") if record_id == b"\x01" * 32 else None,
    audit_nodes=audit_node_ids(YRD_2021),
)


def test_topology_places_fourteen_nodes_in_eight_cities() -> None:
    topology = build_topology(YRD_2021, served_by="shanghai-1", control=True)
    assert topology["type"] == "topology"
    assert len(topology["nodes"]) == 14
    assert {city["id"] for city in topology["cities"]} == {
        "shanghai", "nanjing", "hangzhou", "hefei", "suzhou", "changzhou", "suqian", "taizhou"}
    assert {node["city"] for node in topology["nodes"]} == {c["id"] for c in topology["cities"]}
    assert topology["rotation"] == [node.node_id for node in YRD_2021.nodes]
    shanghai = next(c for c in topology["cities"] if c["id"] == "shanghai")
    assert shanghai["name_zh"] == "上海" and 121 < shanghai["longitude"] < 122
    assert not any(i["label"].startswith("node:") for i in topology["institutions"])
    json.dumps(topology)


def test_partition_plan_cuts_both_ways_and_leaves_other_cities_alone() -> None:
    plan = partition_plan(YRD_2021, ["hefei"], ["shanghai", "taizhou"])
    assert plan["hefei-1"] == ["shanghai-1", "shanghai-2", "shanghai-3", "taizhou-1"]
    assert plan["taizhou-1"] == ["hefei-1", "hefei-2"]
    assert "nanjing-1" not in plan


@pytest.mark.parametrize(("group_a", "group_b", "message"), [
    (["hefei"], [], "non-empty"),
    (["hefei"], ["hefei", "nanjing"], "both groups"),
    (["hefei"], ["atlantis"], "unknown cities"),
])
def test_partition_plan_refuses_bad_groups(group_a: list[str], group_b: list[str],
                                           message: str) -> None:
    with pytest.raises(ValueError, match=message):
        partition_plan(YRD_2021, group_a, group_b)


def test_slow_plan_covers_both_directions_and_a_city_with_itself() -> None:
    plan = slow_plan(YRD_2021, "suqian", "hefei")
    assert plan == {"suqian-1": ["hefei-1", "hefei-2"], "hefei-1": ["suqian-1"],
                    "hefei-2": ["suqian-1"]}
    assert slow_plan(YRD_2021, "nanjing", "nanjing") == {"nanjing-1": ["nanjing-2"],
                                                         "nanjing-2": ["nanjing-1"]}
    assert slow_plan(YRD_2021, "suqian", "suqian") == {}


def test_sse_round_trip_and_oversized_events() -> None:
    events = [{"type": "commit", "height": 7, "node": "hefei-1"},
              {"type": "query", "from_city": "hangzhou", "to_city": "shanghai", "note": "上海"}]
    wire = b": comment\n\n" + b"".join(encode_sse(e, i) for i, e in enumerate(events))
    assert decode_sse_lines(wire.decode().split("\n")) == events
    huge = encode_sse({"type": "proposal", "node": "x", "blob": "a" * 100_000})
    assert json.loads(huge.decode().split("data: ", 1)[1]) == {
        "type": "proposal", "node": "x", "truncated": True}
    assert decode_sse_lines(["data: not json", ""]) == []


def test_event_key_only_for_chain_events() -> None:
    assert event_key({"type": "record_published", "key": "0xab:0"}) == "0xab:0"
    assert event_key({"type": "vote"}) is None


def test_enterprise_city_from_region_digits() -> None:
    assert enterprise_city(SHANGHAI_CODE) == "shanghai"
    assert enterprise_city("short") is None


def test_chain_events_name_parties_cities_and_keys() -> None:
    enterprise = bindings.encode_enterprise_id(SHANGHAI_CODE)
    receipts = [
        _receipt(_log(bindings.RecordPublished, record_id=b"\x01" * 32, enterprise=enterprise,
                      publisher=BUREAU_NANJING, kind=6, payload_hash=b"\x02" * 32, version=1),
                 _log(bindings.GrantIssued, enterprise=enterprise, querier=BANK_HANGZHOU,
                      scope=3, expires_at=1_900_000_000), tag=b"a"),
        _receipt(_log(bindings.RecordPublished, record_id=b"\x03" * 32, enterprise=enterprise,
                      publisher=BUREAU_NANJING, kind=6, payload_hash=b"\x02" * 32, version=1),
                 status=0, tag=b"reverted"),
        _receipt(_log(bindings.AuditAnchored,
                      node_id=YRD_2021.node_public_key("hefei-2"), batch_seq=4,
                      merkle_root=b"\x05" * 32, entry_count=9),
                 _log(bindings.DisputeOpened, dispute_id=b"\x06" * 32, record_id=b"\x01" * 32,
                      opener=BANK_HANGZHOU, deadline=120), tag=b"b"),
    ]
    events = chain_events(41, receipts, DIRECTORY)
    assert [e["type"] for e in events] == ["record_published", "grant", "audit_anchor",
                                           "dispute"]
    published, grant, anchor, dispute = events
    assert published["origin_city"] == "nanjing"
    assert published["enterprise_city"] == "shanghai"
    assert published["kind_en"] == "tax" and published["kind_zh"] == "纳税信息"
    assert published["height"] == 41
    assert published["key"] == f"0x{keccak(b'a').hex()}:0"
    assert grant["querier_city"] == "hangzhou" and grant["querier_name"].startswith("Hangzhou")
    assert grant["key"].endswith(":1")
    assert anchor["audit_node"] == "hefei-2" and anchor["entry_count"] == 9
    assert dispute["phase"] == "opened" and dispute["origin_city"] == "nanjing"
    assert all(e["type"] in EVENT_TYPES for e in events)


def test_chain_events_are_bounded_per_block() -> None:
    enterprise = bindings.encode_enterprise_id(SHANGHAI_CODE)
    log = _log(bindings.RecordPublished, record_id=b"\x01" * 32, enterprise=enterprise,
               publisher=BUREAU_NANJING, kind=6, payload_hash=b"\x02" * 32, version=1)
    receipts = [_receipt(log, tag=str(i).encode()) for i in range(MAX_CHAIN_EVENTS_PER_BLOCK + 5)]
    events = chain_events(3, receipts, DIRECTORY)
    assert len(events) == MAX_CHAIN_EVENTS_PER_BLOCK + 1
    assert events[-1] == {"type": "events_elided", "height": 3, "count": 5, "key": "elided:3"}


def test_query_pairs_give_each_enterprise_one_bank_of_another_city() -> None:
    pairs = query_pairs(YRD_2021)
    assert len(pairs) == 8
    assert len({pair.enterprise_label for pair in pairs}) == 8
    assert all(not pair.enterprise_label.startswith(f"enterprise:{pair.bank_city.value}:")
               for pair in pairs)


def test_report_summary_reads_origin_and_hash_checks() -> None:
    record = {"payload_status": "verified", "provenance": {"origin_city": "shanghai"}}
    assert report_summary({"records": [record]}) == {
        "outcome": "answered", "records": 1, "verified": True, "tampered": 0,
        "unavailable": 0, "to_city": "shanghai", "origin_cities": ["shanghai"]}
    tampered = {"payload_status": "tampered", "provenance": {"origin_city": "nanjing"}}
    summary = report_summary({"records": [record, tampered]})
    assert summary["verified"] is False and summary["tampered"] == 1
    assert summary["origin_cities"] == ["nanjing", "shanghai"]
    assert report_summary({"records": []})["verified"] is False


def test_static_files_ship_and_the_replay_page_is_self_contained(tmp_path: Path) -> None:
    for name in (*STATIC_FILES, "index.html"):
        assert (STATIC_DIRECTORY / name).is_file(), name
    page = replay_page({"topology": build_topology(YRD_2021),
                        "events": [{"type": "commit", "note": "</script><b>"}]})
    assert "window.YRD_REPLAY" in page
    assert "/dashboard/static/" not in page
    assert "</script><b>" not in page
    assert page.count("<script>") == 2


def test_deferred_events_are_shaped_only_when_read_or_heard_in_order_with_their_time() -> None:
    from nodes.runtime.memory_ports import ManualClock
    from nodes.runtime.observation import RECENT_EVENTS, EventStream

    clock = ManualClock(now=1_000.0)
    stream = EventStream("nanjing-1", "nanjing", clock)
    shaped: list[int] = []

    def produce(height: int) -> list[dict[str, object]]:
        shaped.append(height)
        return [{"type": "record_published", "height": height}]

    stream.emit({"type": "status"})
    stream.emit_deferred(lambda: produce(7))
    clock.now = 2_000.0
    stream.emit({"type": "block_committed"})
    assert shaped == []  # nobody listens, nobody read
    assert [(e["type"], e["time_ms"]) for e in stream.recent] == [
        ("status", 1_000), ("record_published", 1_000), ("block_committed", 2_000)]
    assert shaped == [7]
    assert len(stream.recent) == 3 and shaped == [7]  # shaped once
    heard: list[dict[str, object]] = []
    stream.listeners.append(heard.append)
    stream.emit_deferred(lambda: produce(8))
    assert shaped == [7, 8] and heard[0]["height"] == 8 and heard[0]["node"] == "nanjing-1"
    stream.listeners.clear()
    for height in range(RECENT_EVENTS + 10):  # deferred entries fall off the end unshaped
        stream.emit_deferred(lambda height=height: produce(height))
    recent = stream.recent
    assert len(recent) == RECENT_EVENTS and recent[-1]["height"] == RECENT_EVENTS + 9
    assert len(shaped) == 2 + RECENT_EVENTS
