// ethers v6 against a yrdchain node, unmodified: getFeeData, a contract listener over HTTP
// (ethers installs a filter: eth_newFilter, eth_getFilterChanges), a WebSocketProvider's block
// and contract-event subscriptions (eth_subscribe newHeads and logs), a publish sent as an
// EIP-1559 transaction. Prints one JSON line; driven by tests/e2e/test_rpc_clients.py.
//
// usage: node ethers_features.mjs RPC_URL WS_URL PRIVATE_KEY REGISTRY ABI_JSON_FILE
//                                 ENTERPRISE_BYTES32 RECORD_ID PAYLOAD_HASH KIND
import { readFileSync } from "node:fs";
import { Contract, JsonRpcProvider, WebSocketProvider, Wallet } from "ethers";

const [url, wsUrl, privateKey, registryAddress, abiFile, enterprise, recordId, payloadHash, kind] =
  process.argv.slice(2);
const WAIT_MS = 30_000;
const abi = JSON.parse(readFileSync(abiFile, "utf8")).abi;
const provider = new JsonRpcProvider(url);
provider.pollingInterval = 200;
const wallet = new Wallet(privateKey, provider);
const registry = new Contract(registryAddress, abi, wallet);
const socket = new WebSocketProvider(wsUrl);
const socketRegistry = new Contract(registryAddress, abi, socket);

function within(promise, what) {
  return Promise.race([promise, new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS))]);
}
const last = (args) => args[args.length - 1];

const fees = await provider.getFeeData();
const polled = new Promise((resolve) => {
  registry.on("RecordPublished", (...args) => resolve(last(args).log));
});
const socketBlock = new Promise((resolve) => socket.once("block", resolve));
const socketEvent = new Promise((resolve) => {
  socketRegistry.once("RecordPublished", (...args) => resolve(last(args).log));
});
await new Promise((resolve) => setTimeout(resolve, 1_000)); // filters and subscriptions set up

const sent = await registry.publish(recordId, enterprise, Number(kind), payloadHash);
const receipt = await sent.wait(1, WAIT_MS);
const polledLog = await within(polled, "the HTTP filter's event");
const socketLog = await within(socketEvent, "the WebSocket logs notification");
const blockNumber = await within(socketBlock, "the WebSocket newHeads notification");
await registry.removeAllListeners();
await socket.destroy();

console.log(JSON.stringify({
  gasPrice: fees.gasPrice?.toString() ?? null, maxFeePerGas: fees.maxFeePerGas?.toString() ?? null,
  maxPriorityFeePerGas: fees.maxPriorityFeePerGas?.toString() ?? null,
  type: sent.type, status: receipt.status, hash: sent.hash, block: receipt.blockNumber,
  polledTransaction: polledLog.transactionHash, socketTransaction: socketLog.transactionHash,
  socketBlock: blockNumber,
}));
process.exit(0);
