"""Ethereum JSON-RPC on real node processes: web3.py and ethers.js work unmodified.

Each client reads the registry with eth_call, commits a signed publish with
eth_sendRawTransaction, waits for its receipt and finds its event with eth_getLogs; a
non-member's transaction is refused with a JSON-RPC error. Each also deploys a member's contract
(`tests/chain/member_contracts/Probe.vy`) with its ordinary deploy flow, gas estimation included,
and calls a view of it that reads the Consortium through the system precompile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

from chain.crypto import checksum_address
from chain.records import CreditRecord, RecordKind, encode_record, payload_hash, record_id_for
from contracts import bindings
from tests.e2e.network import RunningNetwork

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
        pytest.skip("node and npm are needed to run the ethers.js client (apt-get install "
                    "nodejs npm)")
    if not (JS_DIRECTORY / "node_modules" / "ethers").is_dir():
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
