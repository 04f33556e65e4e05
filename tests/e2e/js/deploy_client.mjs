// ethers.js v6 deploys a member's contract on a yrdchain node, unmodified: ContractFactory
// (gas estimated by the node), wait for the receipt, then call a view that reads the Consortium
// through its precompile. Prints one JSON line; driven by tests/e2e/test_rpc_clients.py.
//
// usage: node deploy_client.mjs RPC_URL PRIVATE_KEY ARTIFACT_JSON_FILE CONSORTIUM REGISTRY
import { readFileSync } from "node:fs";
import { ContractFactory, JsonRpcProvider, Wallet } from "ethers";

const [url, privateKey, artifactFile, consortium, registry] = process.argv.slice(2);
const provider = new JsonRpcProvider(url);
provider.pollingInterval = 200;
const wallet = new Wallet(privateKey, provider);
const artifact = JSON.parse(readFileSync(artifactFile, "utf8"));
const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet);
const contract = await factory.deploy(consortium, registry);
const receipt = await contract.deploymentTransaction().wait(1, 30_000);
await contract.waitForDeployment();
const isPublisher = await contract.is_publisher(wallet.address);
console.log(JSON.stringify({
  address: await contract.getAddress(), receiptAddress: receipt.contractAddress,
  status: receipt.status, isPublisher,
}));
