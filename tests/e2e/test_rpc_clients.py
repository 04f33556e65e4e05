"""Ethereum JSON-RPC on real node processes: web3.py, ethers and viem work unmodified.

Each client reads the registry with eth_call, commits a signed publish with
eth_sendRawTransaction, waits for its receipt and finds its event with eth_getLogs; a
non-member's transaction is refused with a JSON-RPC error. Each also deploys a member's contract
(`tests/chain/member_contracts/Probe.vy`) with its ordinary deploy flow, gas estimation included,
and calls a view of it that reads the Consortium through the system precompile. Then each uses
what clients expect beyond that: fee data, polling filters, WebSocket subscriptions (newHeads,
logs), block receipts and index lookups, Multicall3, eth_getProof, eth_createAccessList, and
the publisher's late upload of a payload that a JSON-RPC publish could not carry.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3, WebSocketProvider
from web3.exceptions import Web3RPCError

from chain.crypto import checksum_address
from chain.records import (
    ALL_KINDS_SCOPE,
    CreditRecord,
    RecordKind,
    encode_record,
    payload_hash,
    record_id_for,
)
from contracts import bindings
from nodes.client import Enterprise, Institution, NodeClient
from nodes.query.request_signing import sign_request
from tests.e2e.network import RunningNetwork
from tests.tools import missing_tool

PROBE = Path(__file__).resolve().parents[1] / "chain" / "member_contracts" / "Probe.vy"


def _probe_artifact() -> dict[str, object]:
    import vyper

    output = vyper.compile_code(PROBE.read_text(encoding="utf-8"),
                                output_formats=["abi", "bytecode"])
    return {"abi": output["abi"], "bytecode": output["bytecode"]}

pytestmark = pytest.mark.slow
JS_DIRECTORY = Path(__file__).resolve().parent / "js"
NPM_TIMEOUT_S = 240
NODE_SCRIPT_TIMEOUT_S = 90
JS_PACKAGES = ("ethers", "viem")


def _record(local4: RunningNetwork, bureau: str, serial: int) -> tuple[bytes, bytes, bytes]:
    enterprise = local4.preset.enterprise("enterprise:hefei:1").credit_code
    record = CreditRecord(enterprise, RecordKind.CUSTOMS, "2024", {"client": bureau,
                                                                   "serial": serial})
    digest = payload_hash(encode_record(record))
    record_id = record_id_for(local4.preset.key(bureau).address, digest, serial)
    return record_id, enterprise.to_bytes32(), digest


def test_web3_reads_the_registry_and_commits_a_publish(local4: RunningNetwork) -> None:
    w3 = Web3(Web3.HTTPProvider(f"{local4.url('hefei-1')}/rpc"))
    assert w3.is_connected() and w3.eth.chain_id == local4.preset.chain_id
    registry = w3.eth.contract(address=checksum_address(local4.genesis.contracts.registry),
                               abi=list(bindings.load_artifact("CreditRegistry").abi))
    record_id, enterprise, digest = _record(local4, "bureau:hefei", 1)
    before = registry.functions.record_count(enterprise).call()
    account = Account.from_key(local4.preset.key("bureau:hefei").secret)
    transaction = registry.functions.publish(
        record_id, enterprise, int(RecordKind.CUSTOMS), digest).build_transaction({
            "from": account.address, "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(account.address, "pending")})
    signed = account.sign_transaction(transaction)
    transaction_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(transaction_hash, timeout=60,
                                                  poll_latency=0.2)
    assert receipt["status"] == 1 and receipt["contractAddress"] is None
    assert registry.functions.record_count(enterprise).call() == before + 1
    events = registry.events.RecordPublished().get_logs(
        from_block=receipt["blockNumber"], to_block=receipt["blockNumber"])
    assert [bytes(event["args"]["record_id"]) for event in events] == [record_id]
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert block["transactions"][receipt["transactionIndex"]]["hash"] == transaction_hash

    stranger = Account.create()
    refused = stranger.sign_transaction({
        "to": registry.address, "data": transaction["data"], "gas": 300_000, "gasPrice": 0,
        "nonce": 0, "chainId": w3.eth.chain_id})
    with pytest.raises(Web3RPCError, match="not an admitted institution"):
        w3.eth.send_raw_transaction(refused.raw_transaction)


def _ensure_ethers() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing_tool("node and npm are needed to run the ethers.js and viem clients "
                     "(apt-get install nodejs npm)")
    if not all((JS_DIRECTORY / "node_modules" / name).is_dir() for name in JS_PACKAGES):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIRECTORY, check=True,
                       timeout=NPM_TIMEOUT_S, capture_output=True)
    return JS_DIRECTORY / "rpc_client.mjs"


def test_ethers_reads_the_registry_and_commits_a_publish(local4: RunningNetwork,
                                                         tmp_path: Path) -> None:
    script = _ensure_ethers()
    abi_file = tmp_path / "CreditRegistry.json"
    abi_file.write_text(json.dumps({"abi": list(bindings.load_artifact("CreditRegistry").abi)}))
    record_id, enterprise, digest = _record(local4, "bureau:nanjing", 2)
    completed = subprocess.run(
        ["node", str(script), f"{local4.url('nanjing-1')}/rpc",
         "0x" + local4.preset.key("bureau:nanjing").secret.hex(),
         checksum_address(local4.genesis.contracts.registry), str(abi_file),
         "0x" + enterprise.hex(), "0x" + record_id.hex(), "0x" + digest.hex(),
         str(int(RecordKind.CUSTOMS))],
        capture_output=True, text=True, timeout=NODE_SCRIPT_TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["chainId"] == str(local4.preset.chain_id)
    assert result["status"] == 1 and result["logs"] == 1
    assert int(result["after"]) == int(result["before"]) + 1
    assert result["recordId"] == ["0x" + record_id.hex()]
    assert result["refused"] and "not an admitted institution" in result["refused"]


MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
AGGREGATE3_ABI = [{
    "name": "aggregate3", "type": "function", "stateMutability": "payable",
    "inputs": [{"name": "calls", "type": "tuple[]", "components": [
        {"name": "target", "type": "address"}, {"name": "allowFailure", "type": "bool"},
        {"name": "callData", "type": "bytes"}]}],
    "outputs": [{"name": "returnData", "type": "tuple[]", "components": [
        {"name": "success", "type": "bool"}, {"name": "returnData", "type": "bytes"}]}]}]
SUBSCRIPTION_TIMEOUT_S = 30


def _ws_url(local4: RunningNetwork, node_id: str) -> str:
    return local4.url(node_id).replace("http://", "ws://", 1) + "/ws"


def _payload_record(local4: RunningNetwork, bureau: str, serial: int) -> tuple[
        CreditRecord, bytes, bytes, bytes]:
    enterprise = local4.preset.enterprise("enterprise:hefei:1").credit_code
    record = CreditRecord(enterprise, RecordKind.CUSTOMS, "2024", {"client": bureau,
                                                                   "serial": serial})
    digest = payload_hash(encode_record(record))
    record_id = record_id_for(local4.preset.key(bureau).address, digest, serial)
    return record, record_id, enterprise.to_bytes32(), digest


def test_web3_filters_fees_lookups_multicall_proofs_and_a_late_payload(
        local4: RunningNetwork) -> None:
    w3 = Web3(Web3.HTTPProvider(f"{local4.url('hangzhou-1')}/rpc"))
    registry = w3.eth.contract(address=checksum_address(local4.genesis.contracts.registry),
                               abi=list(bindings.load_artifact("CreditRegistry").abi))
    consortium = w3.eth.contract(address=checksum_address(local4.genesis.contracts.consortium),
                                 abi=list(bindings.load_artifact("Consortium").abi))
    block_filter = w3.eth.filter("latest")
    event_filter = registry.events.RecordPublished.create_filter(from_block="latest")
    latest = w3.eth.get_block("latest")
    assert latest["baseFeePerGas"] > 0 and w3.eth.max_priority_fee == 0
    history = w3.eth.fee_history(2, "latest", [50])
    blocks = len(history["gasUsedRatio"])
    assert 1 <= blocks <= 2 and len(history["reward"]) == blocks
    assert history["baseFeePerGas"] == [latest["baseFeePerGas"]] * (blocks + 1)

    record, record_id, enterprise, digest = _payload_record(local4, "bureau:hangzhou", 3)
    account = Account.from_key(local4.preset.key("bureau:hangzhou").secret)
    transaction = registry.functions.publish(
        record_id, enterprise, int(RecordKind.CUSTOMS), digest).build_transaction({
            "from": account.address, "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(account.address, "pending")})
    assert transaction["maxFeePerGas"] > 0 and "gasPrice" not in transaction  # EIP-1559 fees
    sent = w3.eth.send_raw_transaction(account.sign_transaction(transaction).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(sent, timeout=60, poll_latency=0.2)
    assert receipt["status"] == 1

    entries = event_filter.get_new_entries()
    assert [bytes(entry["args"]["record_id"]) for entry in entries] == [record_id]
    assert event_filter.get_new_entries() == []
    assert receipt["blockHash"] in block_filter.get_new_entries()
    assert w3.eth.uninstall_filter(event_filter.filter_id) is True
    receipts = w3.eth.get_block_receipts(receipt["blockNumber"])
    assert receipts[receipt["transactionIndex"]]["transactionHash"] == sent
    assert w3.eth.get_transaction_by_block(receipt["blockNumber"],
                                           receipt["transactionIndex"])["hash"] == sent
    assert w3.manager.request_blocking("web3_sha3", ["0x68656c6c6f"]) == "0x" + (
        Web3.keccak(text="hello").hex().removeprefix("0x"))

    multicall = w3.eth.contract(address=MULTICALL3, abi=AGGREGATE3_ABI)
    answers = multicall.functions.aggregate3([
        (registry.address, False, registry.encode_abi("record_count", [enterprise])),
        (consortium.address, False, consortium.encode_abi("validator_count", [])),
    ]).call()
    assert [bytes_ok for bytes_ok, _ in answers] == [True, True]
    assert int.from_bytes(answers[0][1], "big") == registry.functions.record_count(
        enterprise).call()
    assert int.from_bytes(answers[1][1], "big") == len(local4.preset.nodes)

    # The native engine keeps the registry's state in table rows: its call touches no EVM slot
    # (the exact gas of the schedule), and its root is no single trie, so no proof is given.
    count_call = {"to": registry.address, "data": registry.encode_abi("record_count",
                                                                      [enterprise])}
    access = w3.eth.create_access_list(count_call)
    assert access["accessList"] == [] and access["gasUsed"] == w3.eth.estimate_gas(count_call)
    with pytest.raises(Web3RPCError) as no_proof:
        w3.eth.get_proof(registry.address, [0], receipt["blockNumber"])
    assert "ADR 0008" in str(no_proof.value)

    shanghai = NodeClient(local4.url("shanghai-1"))
    bank = Institution(local4.preset.key("bank:shanghai"), shanghai)
    spec = local4.preset.enterprise("enterprise:hefei:1")
    owner = Enterprise(local4.preset.key(spec.label), spec.credit_code, shanghai)
    expires_at_s = int(time.time()) + 3600
    signature, nonce = owner.sign_grant(bank.address, expires_at_s)
    shanghai.wait_committed(bank.submit_grant(spec.credit_code, signature, ALL_KINDS_SCOPE,
                                              expires_at_s, nonce))

    def payload_status() -> tuple[str, str]:
        report = bank.report(spec.credit_code.code)  # from Shanghai: fetched from Hangzhou
        [item] = [item for item in report["records"]
                  if item["record_id"] == "0x" + record_id.hex()]
        return item["payload_status"], str(item["payload_detail"])

    status, detail = payload_status()
    assert status == "not_uploaded" and "PUT /v1/records/" in detail

    path = f"/v1/records/0x{record_id.hex()}/payload"
    headers = sign_request(local4.preset.key("bureau:hangzhou"), local4.preset.chain_id,
                           "hangzhou-1", "PUT", path, int(time.time() * 1000))
    uploaded = local4.client.put(local4.url("hangzhou-1") + path, headers=headers,
                                 json={"payload": record.to_json_object()})
    assert uploaded.status_code == 201 and uploaded.json()["stored"] is True, uploaded.text
    assert payload_status()[0] == "verified"


def test_web3_subscribes_to_heads_and_logs_over_websocket(local4: RunningNetwork) -> None:
    http = Web3(Web3.HTTPProvider(f"{local4.url('shanghai-1')}/rpc"))
    registry = http.eth.contract(address=checksum_address(local4.genesis.contracts.registry),
                                 abi=list(bindings.load_artifact("CreditRegistry").abi))
    _, record_id, enterprise, digest = _payload_record(local4, "bureau:shanghai", 4)
    account = Account.from_key(local4.preset.key("bureau:shanghai").secret)
    signed = account.sign_transaction(registry.functions.publish(
        record_id, enterprise, int(RecordKind.CUSTOMS), digest).build_transaction({
            "from": account.address, "chainId": http.eth.chain_id,
            "nonce": http.eth.get_transaction_count(account.address, "pending")}))
    topic = "0x" + bindings.event_topic(bindings.RecordPublished).hex()

    async def run() -> dict[str, list[Any]]:
        async with AsyncWeb3(WebSocketProvider(_ws_url(local4, "shanghai-1"))) as w3:
            heads = await w3.eth.subscribe("newHeads")
            logs = await w3.eth.subscribe("logs", {"address": registry.address,
                                                   "topics": [topic]})
            await w3.eth.send_raw_transaction(signed.raw_transaction)
            seen: dict[str, list[Any]] = {}

            async def collect() -> None:
                async for message in w3.socket.process_subscriptions():
                    seen.setdefault(str(message["subscription"]), []).append(message["result"])
                    if heads in seen and logs in seen:
                        return

            await asyncio.wait_for(collect(), SUBSCRIPTION_TIMEOUT_S)
            assert await w3.eth.unsubscribe(heads) is True
            return {"heads": seen[heads], "logs": seen[logs]}

    seen = asyncio.run(run())
    assert seen["logs"][0]["transactionHash"] == signed.hash
    assert seen["heads"][0]["number"] >= 1 and "transactions" not in seen["heads"][0]


def test_ethers_fee_data_filters_and_websocket_subscriptions(local4: RunningNetwork,
                                                            tmp_path: Path) -> None:
    script = _ensure_ethers().with_name("ethers_features.mjs")
    abi_file = tmp_path / "CreditRegistry.json"
    abi_file.write_text(json.dumps({"abi": list(bindings.load_artifact("CreditRegistry").abi)}))
    _, record_id, enterprise, digest = _payload_record(local4, "bureau:nanjing", 5)
    completed = subprocess.run(
        ["node", str(script), f"{local4.url('nanjing-1')}/rpc", _ws_url(local4, "nanjing-1"),
         "0x" + local4.preset.key("bureau:nanjing").secret.hex(),
         checksum_address(local4.genesis.contracts.registry), str(abi_file),
         "0x" + enterprise.hex(), "0x" + record_id.hex(), "0x" + digest.hex(),
         str(int(RecordKind.CUSTOMS))],
        capture_output=True, text=True, timeout=NODE_SCRIPT_TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert None not in (result["gasPrice"], result["maxFeePerGas"],
                        result["maxPriorityFeePerGas"])
    assert int(result["maxFeePerGas"]) > 0 and result["type"] == 2 and result["status"] == 1
    assert result["polledTransaction"] == result["hash"] == result["socketTransaction"]
    assert result["socketBlock"] >= 1


def test_viem_multicall_filters_subscriptions_proof_and_late_payload(local4: RunningNetwork,
                                                                     tmp_path: Path) -> None:
    script = _ensure_ethers().with_name("viem_client.mjs")
    record, record_id, enterprise, digest = _payload_record(local4, "bureau:hefei", 6)
    setup = {
        "url": f"{local4.url('hefei-1')}/rpc", "wsUrl": _ws_url(local4, "hefei-1"),
        "nodeId": "hefei-1", "chainId": local4.preset.chain_id,
        "privateKey": "0x" + local4.preset.key("bureau:hefei").secret.hex(),
        "registry": checksum_address(local4.genesis.contracts.registry),
        "consortium": checksum_address(local4.genesis.contracts.consortium),
        "registryAbi": list(bindings.load_artifact("CreditRegistry").abi),
        "consortiumAbi": list(bindings.load_artifact("Consortium").abi),
        "enterprise": "0x" + enterprise.hex(), "recordId": "0x" + record_id.hex(),
        "payloadHash": "0x" + digest.hex(), "kind": int(RecordKind.CUSTOMS),
        "payload": record.to_json_object()}
    setup_file = tmp_path / "viem.json"
    setup_file.write_text(json.dumps(setup))
    completed = subprocess.run(["node", str(script), str(setup_file)], capture_output=True,
                               text=True, timeout=NODE_SCRIPT_TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert int(result["countAfter"]) == int(result["countBefore"]) + 1
    assert int(result["validators"]) == len(local4.preset.nodes)
    assert int(result["maxFeePerGas"]) > 0 and result["maxPriorityFeePerGas"] == "0"
    assert result["status"] == "success" and result["type"] == "eip1559"
    assert result["eventTransaction"] == result["hash"]
    assert result["eventRecordId"] == "0x" + record_id.hex()
    assert result["filterRecordIds"] == ["0x" + record_id.hex()]
    assert result["blockHash"] in result["blockChanges"]
    assert int(result["headNumber"]) >= 1 and result["proofError"] == -32001
    assert result["hash"] in result["receiptHashes"]
    assert result["uploadStatus"] == 201 and result["uploaded"]["stored"] is True


def test_web3_deploys_a_member_contract_that_reads_the_consortium(
        local4: RunningNetwork) -> None:
    w3 = Web3(Web3.HTTPProvider(f"{local4.url('shanghai-1')}/rpc"))
    artifact = _probe_artifact()
    account = Account.from_key(local4.preset.key("bureau:shanghai").secret)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    transaction = factory.constructor(
        checksum_address(local4.genesis.contracts.consortium),
        checksum_address(local4.genesis.contracts.registry)).build_transaction({
            "from": account.address, "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(account.address, "pending")})
    signed = account.sign_transaction(transaction)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60, poll_latency=0.2)
    assert receipt["status"] == 1 and receipt["contractAddress"]
    probe = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    assert probe.functions.is_publisher(account.address).call() is True
    assert w3.eth.get_code(receipt["contractAddress"])

    querier = Account.from_key(local4.preset.key("bank:shanghai").secret)
    refused = querier.sign_transaction({
        "data": transaction["data"], "gas": 1_000_000, "gasPrice": 0,
        "nonce": w3.eth.get_transaction_count(querier.address, "pending"),
        "chainId": w3.eth.chain_id})
    with pytest.raises(Web3RPCError, match="deploying a contract needs"):
        w3.eth.send_raw_transaction(refused.raw_transaction)


def test_ethers_deploys_a_member_contract(local4: RunningNetwork, tmp_path: Path) -> None:
    _ensure_ethers()
    artifact_file = tmp_path / "Probe.json"
    artifact_file.write_text(json.dumps(_probe_artifact()))
    completed = subprocess.run(
        ["node", str(JS_DIRECTORY / "deploy_client.mjs"), f"{local4.url('hefei-1')}/rpc",
         "0x" + local4.preset.key("bureau:hefei").secret.hex(), str(artifact_file),
         checksum_address(local4.genesis.contracts.consortium),
         checksum_address(local4.genesis.contracts.registry)],
        capture_output=True, text=True, timeout=NODE_SCRIPT_TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == 1 and result["isPublisher"] is True
    assert result["address"] == result["receiptAddress"]
