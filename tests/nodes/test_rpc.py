"""JSON-RPC on one node's app: spec shapes, lookups, fees, filters, subscriptions, proofs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rlp
from trie import HexaryTrie

from chain.crypto import keccak
from chain.genesis import EVM_ENGINE, Genesis, build_genesis
from chain.presets import Preset
from contracts import bindings, views
from nodes.api import rpc_filters, rpc_subscriptions
from nodes.api.eth_shapes import NOMINAL_BASE_FEE_WEI
from tests.nodes.api_node import ApiNode, make_api_node, tax_record

RECEIPT_FIELDS = {"transactionHash", "transactionIndex", "blockHash", "blockNumber", "from", "to",
                  "cumulativeGasUsed", "gasUsed", "effectiveGasPrice", "contractAddress", "logs",
                  "logsBloom", "status", "type"}
LEGACY_TRANSACTION_FIELDS = {"blockHash", "blockNumber", "transactionIndex", "hash", "from", "to",
                             "nonce", "gas", "gasPrice", "input", "value", "type", "chainId",
                             "v", "r", "s"}


@pytest.fixture
def node(preset: Preset, genesis: Genesis, tmp_path: Path) -> ApiNode:
    return make_api_node(preset, genesis, tmp_path)


def call(node: ApiNode, method: str, *params: Any) -> Any:
    answer = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                            "params": list(params)}).json()
    assert "error" not in answer, answer
    return answer["result"]


def error_of(node: ApiNode, method: str, *params: Any) -> dict[str, Any]:
    answer = node.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                            "params": list(params)}).json()
    assert "error" in answer, answer
    return dict(answer["error"])


def publish(node: ApiNode, enterprise: str = "enterprise:shanghai:1", serial: int = 0) -> str:
    raw = node.publish_body("bureau:shanghai", tax_record(node.preset, enterprise, serial))["raw"]
    return str(call(node, "eth_sendRawTransaction", raw))


def published_topic() -> str:
    return "0x" + bindings.event_topic(bindings.RecordPublished).hex()


def test_receipts_and_transactions_have_the_specified_fields(node: ApiNode) -> None:
    first, second = publish(node, serial=1), publish(node, serial=2)
    node.commit()
    receipts = call(node, "eth_getBlockReceipts", "0x1")
    assert [receipt["transactionHash"] for receipt in receipts] == [first, second]
    assert all(set(receipt) == RECEIPT_FIELDS for receipt in receipts)
    assert receipts[1] == call(node, "eth_getTransactionReceipt", second)
    assert receipts[1]["logs"][0]["logIndex"] == hex(len(receipts[0]["logs"]))
    block = call(node, "eth_getBlockByNumber", "0x1", False)
    assert call(node, "eth_getBlockReceipts", block["hash"]) == receipts
    by_number = call(node, "eth_getTransactionByBlockNumberAndIndex", "0x1", "0x1")
    by_hash = call(node, "eth_getTransactionByBlockHashAndIndex", block["hash"], "0x1")
    assert by_number == by_hash == call(node, "eth_getTransactionByHash", second)
    assert set(by_number) == LEGACY_TRANSACTION_FIELDS
    assert call(node, "eth_getTransactionByBlockNumberAndIndex", "0x1", "0x2") is None
    assert call(node, "eth_getBlockReceipts", "0x9") is None
    assert call(node, "eth_getBlockReceipts", "0x" + "ab" * 32) is None


def test_web3_sha3_and_fee_fields(node: ApiNode) -> None:
    assert call(node, "web3_sha3", "0x68656c6c6f") == "0x" + keccak(b"hello").hex()
    assert error_of(node, "web3_sha3", "hello")["code"] == -32602
    assert int(call(node, "eth_maxPriorityFeePerGas"), 16) == 0
    base_fee = int(call(node, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    assert base_fee == NOMINAL_BASE_FEE_WEI > 0
    assert int(call(node, "eth_gasPrice"), 16) >= base_fee
    node.commit()
    history = call(node, "eth_feeHistory", "0x2", "latest", [25, 75])
    assert history["oldestBlock"] == "0x0"
    assert history["baseFeePerGas"] == [hex(base_fee)] * 3
    assert len(history["gasUsedRatio"]) == 2 and history["reward"] == [["0x0", "0x0"]] * 2
    assert error_of(node, "eth_feeHistory", "0x2", "latest", [101])["code"] == -32602


def test_block_and_log_filters_report_each_change_once(node: ApiNode) -> None:
    blocks = call(node, "eth_newBlockFilter")
    logs = call(node, "eth_newFilter", {"topics": [published_topic()]})
    others = call(node, "eth_newFilter", {"address": "0x" + "11" * 20})
    pending = call(node, "eth_newPendingTransactionFilter")
    sent = publish(node)
    assert call(node, "eth_getFilterChanges", pending) == [sent]
    assert call(node, "eth_getFilterChanges", pending) == []
    committed = node.commit()
    assert call(node, "eth_getFilterChanges", blocks) == ["0x" + committed.block.hash.hex()]
    assert call(node, "eth_getFilterChanges", blocks) == []
    changes = call(node, "eth_getFilterChanges", logs)
    assert [log["transactionHash"] for log in changes] == [sent]
    assert call(node, "eth_getFilterChanges", logs) == []
    assert call(node, "eth_getFilterLogs", logs) == changes
    assert call(node, "eth_getFilterChanges", others) == []
    assert error_of(node, "eth_getFilterLogs", blocks)["code"] == -32602
    assert call(node, "eth_uninstallFilter", logs) is True
    assert call(node, "eth_uninstallFilter", logs) is False
    assert "not found" in error_of(node, "eth_getFilterChanges", logs)["message"]


def test_filters_are_bounded_in_number_and_idle_time(node: ApiNode,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_filters, "MAX_FILTERS", 3)
    book = node.client.app.state.rpc.filters  # type: ignore[attr-defined]
    now = [1_000.0]
    book.clock_s = lambda: now[0]
    installed = [call(node, "eth_newBlockFilter") for _ in range(3)]
    assert error_of(node, "eth_newBlockFilter")["code"] == -32005
    now[0] += rpc_filters.FILTER_IDLE_TIMEOUT_S / 2
    assert call(node, "eth_getFilterChanges", installed[0]) == []
    now[0] += rpc_filters.FILTER_IDLE_TIMEOUT_S / 2 + 1
    replacement = call(node, "eth_newBlockFilter")
    assert set(book.filters) == {installed[0], replacement}
    assert error_of(node, "eth_getFilterChanges", installed[1])["code"] == -32000


def test_a_websocket_client_subscribes_to_heads_and_logs(node: ApiNode) -> None:
    with node.client.websocket_connect("/ws") as socket:
        socket.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                          "params": ["newHeads"]})
        heads = socket.receive_json()["result"]
        socket.send_json({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe",
                          "params": ["logs", {"topics": [published_topic()]}]})
        logs = socket.receive_json()["result"]
        socket.send_bytes(b'{"jsonrpc": "2.0", "id": 3, "method": "eth_chainId"}')  # web3.py
        assert socket.receive_json()["result"] == hex(node.preset.chain_id)
        sent = publish(node)
        committed = node.commit()
        received = [socket.receive_json() for _ in range(2)]
        by_subscription = {message["params"]["subscription"]: message["params"]["result"]
                           for message in received}
        assert by_subscription[heads]["hash"] == "0x" + committed.block.hash.hex()
        assert "transactions" not in by_subscription[heads]
        assert by_subscription[logs]["transactionHash"] == sent
        socket.send_json({"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe",
                          "params": [heads]})
        assert socket.receive_json()["result"] is True
        socket.send_json({"jsonrpc": "2.0", "id": 5, "method": "eth_subscribe",
                          "params": ["pendingEverything"]})
        assert socket.receive_json()["error"]["code"] == -32602


def test_subscriptions_per_connection_are_bounded(node: ApiNode,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_subscriptions, "MAX_SUBSCRIPTIONS_PER_CONNECTION", 2)
    with node.client.websocket_connect("/rpc") as socket:
        for identifier in range(3):
            socket.send_json({"jsonrpc": "2.0", "id": identifier, "method": "eth_subscribe",
                              "params": ["newHeads"]})
        answers = [socket.receive_json() for _ in range(3)]
        assert ["result" in answer for answer in answers] == [True, True, False]
        assert answers[2]["error"]["code"] == -32005


@pytest.fixture(scope="module")
def reference_node(preset: Preset, tmp_path_factory: pytest.TempPathFactory) -> ApiNode:
    """A node on the py-evm reference engine, whose state root is one Merkle-Patricia trie."""
    return make_api_node(preset, build_genesis(preset, EVM_ENGINE),
                         tmp_path_factory.mktemp("reference"))


def test_create_access_list_names_the_slots_a_call_reads(reference_node: ApiNode) -> None:
    node = reference_node
    consortium = "0x" + node.genesis.contracts.consortium.hex()
    bureau = node.preset.key("bureau:shanghai").address
    answer = call(node, "eth_createAccessList", {
        "to": consortium, "data": "0x" + views.encode_has_role(bureau, 1).hex()}, "latest")
    assert int(answer["gasUsed"], 16) > 21_000
    [entry] = answer["accessList"]
    assert entry["address"].lower() == consortium and entry["storageKeys"]
    assert "error" not in answer


def test_get_proof_verifies_against_the_state_root(reference_node: ApiNode) -> None:
    node = reference_node
    registry = node.genesis.contracts.registry
    answer = call(node, "eth_getProof", "0x" + registry.hex(), ["0x0", "0x1"], "latest")
    state_root = bytes.fromhex(call(node, "eth_getBlockByNumber", "latest", False)[
        "stateRoot"][2:])
    proof = [rlp.decode(bytes.fromhex(node_hex[2:])) for node_hex in answer["accountProof"]]
    account = rlp.decode(HexaryTrie.get_from_proof(state_root, keccak(registry), proof))
    assert account[3] == bytes.fromhex(answer["codeHash"][2:])
    assert account[2] == bytes.fromhex(answer["storageHash"][2:])
    assert keccak(bytes.fromhex(call(node, "eth_getCode", "0x" + registry.hex())[2:])) == (
        account[3])
    for slot in answer["storageProof"]:
        slot_proof = [rlp.decode(bytes.fromhex(item[2:])) for item in slot["proof"]]
        value = HexaryTrie.get_from_proof(account[2], keccak(bytes.fromhex(slot["key"][2:])),
                                          slot_proof)
        assert (int.from_bytes(rlp.decode(value), "big") if value else 0) == int(
            slot["value"], 16)
    assert error_of(node, "eth_getProof", "0x" + registry.hex(), "0x0")["code"] == -32602


def test_subscriptions_over_http_point_to_the_websocket(node: ApiNode) -> None:
    error = error_of(node, "eth_subscribe", "newHeads")
    assert error["code"] == -32601 and "/ws" in error["message"]


def test_no_proof_where_the_state_root_is_not_a_trie_root(node: ApiNode,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    state_root = node.runtime.ledger.head.state_root
    load = node.runtime.ledger.store.load_state_node
    monkeypatch.setattr(node.runtime.ledger.store, "load_state_node",
                        lambda key: None if key == state_root else load(key))
    error = error_of(node, "eth_getProof", "0x" + "11" * 20, [], "latest")
    assert error["code"] == -32001 and "no proof" in error["message"]


def test_the_native_engine_gives_no_trie_proof_and_says_why(node: ApiNode) -> None:
    error = error_of(node, "eth_getProof", "0x" + node.genesis.contracts.registry.hex(), [],
                     "latest")
    assert error["code"] == -32001 and "ADR 0008" in error["message"]


def test_a_system_call_reads_no_evm_slot_under_the_native_engine(node: ApiNode) -> None:
    bureau = node.preset.key("bureau:shanghai").address
    request = {"to": "0x" + node.genesis.contracts.consortium.hex(),
               "data": "0x" + views.encode_has_role(bureau, 1).hex()}
    answer = call(node, "eth_createAccessList", request, "latest")
    assert answer["accessList"] == [] and "error" not in answer
    assert answer["gasUsed"] == call(node, "eth_estimateGas", request)


def test_a_connection_that_does_not_read_is_marked_for_closing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setattr(rpc_subscriptions, "MAX_QUEUED_MESSAGES", 2)

    async def fill() -> rpc_subscriptions.Connection:
        connection = rpc_subscriptions.Connection(asyncio.get_running_loop())
        for number in range(3):
            connection.notify("0x1", {"number": hex(number)})
        return connection

    connection = asyncio.run(fill())
    assert connection.overflowed and connection.queue.qsize() == 2
