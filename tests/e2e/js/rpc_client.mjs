// ethers.js v6 against a yrdchain node's JSON-RPC, unmodified: read the registry with eth_call,
// commit a signed publish with eth_sendRawTransaction, wait for the receipt, filter its event
// with eth_getLogs. Prints one JSON line; driven by tests/e2e/test_rpc_clients.py.
//
// usage: node rpc_client.mjs RPC_URL PRIVATE_KEY REGISTRY ABI_JSON_FILE ENTERPRISE_BYTES32
//                            RECORD_ID PAYLOAD_HASH KIND
import { readFileSync } from "node:fs";
import { Contract, JsonRpcProvider, Wallet } from "ethers";

const [url, privateKey, registryAddress, abiFile, enterprise, recordId, payloadHash, kind] =
  process.argv.slice(2);
const provider = new JsonRpcProvider(url);
provider.pollingInterval = 200;
const wallet = new Wallet(privateKey, provider);
const abi = JSON.parse(readFileSync(abiFile, "utf8")).abi;
const registry = new Contract(registryAddress, abi, wallet);

const network = await provider.getNetwork();
const before = await registry.record_count(enterprise);
const sent = await registry.publish(recordId, enterprise, Number(kind), payloadHash);
const receipt = await sent.wait(1, 30_000);
const after = await registry.record_count(enterprise);
const topic = registry.interface.getEvent("RecordPublished").topicHash;
const logs = await provider.getLogs({
  address: registryAddress, topics: [topic], fromBlock: receipt.blockNumber,
  toBlock: receipt.blockNumber,
});
const parsed = logs.map((log) => registry.interface.parseLog(log));
let refused = null;
try {
  const stranger = Wallet.createRandom().connect(provider);
  await new Contract(registryAddress, abi, stranger).publish(
    recordId, enterprise, Number(kind), payloadHash, { gasLimit: 300000 });
} catch (error) {
  refused = (error.error && error.error.message) || error.message;
}
console.log(JSON.stringify({
  chainId: network.chainId.toString(), before: before.toString(), after: after.toString(),
  status: receipt.status, hash: sent.hash, block: receipt.blockNumber, logs: logs.length,
  recordId: parsed.map((event) => event.args.record_id), refused,
}));
