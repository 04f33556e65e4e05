// viem 2 against a yrdchain node, unmodified: multicall through Multicall3 at its canonical
// address, fee estimation, a contract event filter and a block filter (eth_newFilter,
// eth_getFilterChanges), a publish written with a local account, WebSocket subscriptions to new
// heads and to the published event, eth_getProof, block receipts, and the publisher's late
// upload of the payload (PUT /v1/records/{id}/payload, signed with signMessage as
// docs/spec/api.md says). Prints one JSON line; driven by tests/e2e/test_rpc_clients.py.
//
// usage: node viem_client.mjs SETUP_JSON_FILE
//   SETUP: {url, wsUrl, nodeId, chainId, privateKey, registry, consortium, registryAbi,
//           consortiumAbi, enterprise, recordId, payloadHash, kind, payload}
import { readFileSync } from "node:fs";
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket, keccak256, toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

const setup = JSON.parse(readFileSync(process.argv[2], "utf8"));
const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";
const WAIT_MS = 30_000;
const chain = defineChain({
  id: setup.chainId, name: "yrdchain", nativeCurrency: { name: "none", symbol: "NONE", decimals: 18 },
  rpcUrls: { default: { http: [setup.url], webSocket: [setup.wsUrl] } },
  contracts: { multicall3: { address: MULTICALL3, blockCreated: 0 } },
});
const client = createPublicClient({ chain, transport: http(setup.url), pollingInterval: 200 });
const account = privateKeyToAccount(setup.privateKey);
const wallet = createWalletClient({ chain, account, transport: http(setup.url) });
const registry = { address: setup.registry, abi: setup.registryAbi };

function within(promise, what) {
  return Promise.race([promise, new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS))]);
}

const [countBefore, validators] = await client.multicall({
  contracts: [
    { ...registry, functionName: "record_count", args: [setup.enterprise] },
    { address: setup.consortium, abi: setup.consortiumAbi, functionName: "validator_count" },
  ],
  allowFailure: false,
});
const fees = await client.estimateFeesPerGas();
const eventFilter = await client.createContractEventFilter({ ...registry, eventName: "RecordPublished" });
const blockFilter = await client.createBlockFilter();

const socketClient = createPublicClient({ chain, transport: webSocket(setup.wsUrl) });
let unwatchBlocks;
let unwatchEvents;
const headSeen = new Promise((resolve) => {
  unwatchBlocks = socketClient.watchBlocks({ onBlock: (block) => resolve(block) });
});
const eventSeen = new Promise((resolve) => {
  unwatchEvents = socketClient.watchContractEvent({
    ...registry, eventName: "RecordPublished", onLogs: (logs) => resolve(logs[0]),
  });
});
await new Promise((resolve) => setTimeout(resolve, 500)); // the subscriptions are set up

const hash = await wallet.writeContract({
  ...registry, functionName: "publish",
  args: [setup.recordId, setup.enterprise, setup.kind, setup.payloadHash],
});
const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 200, timeout: WAIT_MS });
const head = await within(headSeen, "a newHeads notification");
const event = await within(eventSeen, "a logs notification");
unwatchBlocks();
unwatchEvents();
const eventChanges = await client.getFilterChanges({ filter: eventFilter });
const blockChanges = await client.getFilterChanges({ filter: blockFilter });
await client.uninstallFilter({ filter: eventFilter });
const countAfter = await client.readContract({ ...registry, functionName: "record_count", args: [setup.enterprise] });
// The native engine's state root is no single trie: the node answers -32001 and says why.
const proofError = await client.getProof({ address: setup.registry, storageKeys: [toHex(0, { size: 32 })] })
  .then(() => null, (error) => error.code ?? error.cause?.code ?? null);
const receipts = await client.request({ method: "eth_getBlockReceipts", params: [toHex(receipt.blockNumber)] });

// The publish carried no payload: its publisher uploads it, signing the canonical request.
const path = `/v1/records/${setup.recordId}/payload`;
const timestamp = Date.now().toString();
const nonce = keccak256(toHex(`${timestamp}-${Math.random()}`)).slice(2, 34);
const text = ["yrdchain request v1", `chain: ${setup.chainId}`, `node: ${setup.nodeId}`,
  "method: PUT", `path: ${path}`, `timestamp: ${timestamp}`, `nonce: ${nonce}`].join("\n");
const signature = await account.signMessage({ message: text });
const upload = await fetch(setup.url.replace(/\/rpc$/, "") + path, {
  method: "PUT", body: JSON.stringify({ payload: setup.payload }),
  headers: { "content-type": "application/json", "x-yrd-timestamp": timestamp,
             "x-yrd-nonce": nonce, "x-yrd-signature": signature },
});
const uploaded = await upload.json();

console.log(JSON.stringify({
  countBefore: countBefore.toString(), countAfter: countAfter.toString(),
  validators: validators.toString(), maxFeePerGas: fees.maxFeePerGas?.toString() ?? null,
  maxPriorityFeePerGas: fees.maxPriorityFeePerGas?.toString() ?? null,
  status: receipt.status, type: receipt.type, block: receipt.blockNumber.toString(), hash,
  headNumber: head.number.toString(), eventTransaction: event.transactionHash,
  eventRecordId: event.args.record_id,
  filterRecordIds: eventChanges.map((log) => log.args.record_id),
  blockChanges, blockHash: receipt.blockHash,
  proofError,
  receiptHashes: receipts.map((item) => item.transactionHash),
  uploadStatus: upload.status, uploaded,
}));
process.exit(0);
