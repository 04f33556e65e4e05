"""A Python client for institutions and enterprises: sign locally, talk to one home node.

`NodeClient` is HTTP access to one node (status, JSON-RPC, REST, signed reads). `Institution`
holds a bank's, bureau's or regulator's key and nonce and builds, signs and submits its
transactions — publish and correct with their payloads, grants and revocations on behalf of an
enterprise, disputes — and its signed queries. `Enterprise` holds an enterprise's key: it signs
grants and revocations (EIP-712) for an institution to submit, and reads its own audit trail.

Keys never leave the process: transactions are built and signed by `chain.builder`, requests with
`nodes.query.request_signing`. Used by the demo, the tests and the Locust users.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from chain import builder
from chain.crypto import Address, PrivateKey, keccak
from chain.enterprise import EnterpriseId
from chain.query.audit import check_proof, node_id_bytes32, proof_from_json
from chain.records import ALL_KINDS_SCOPE, CreditRecord
from chain.wallet import EnterpriseSignature
from contracts import bindings
from nodes.query.request_signing import sign_request

DEFAULT_TIMEOUT_S = 10.0
COMMIT_POLL_S = 0.1


@dataclass(eq=False)
class ApiError(Exception):
    """A refusal from the node: HTTP status and the `{error, message, field}` body."""

    status: int
    error: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.message}"


@dataclass(eq=False)
class RpcCallError(Exception):
    """A JSON-RPC error answer."""

    code: int
    message: str
    data: Any = None

    def __str__(self) -> str:
        return f"JSON-RPC {self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class Contracts:
    """The contract addresses a node reports at `/v1/contracts`."""

    consortium: Address
    registry: Address
    authorization: Address


@dataclass(frozen=True, slots=True)
class Published:
    """A submitted publish: its transaction, record id and payload hash."""

    transaction_hash: str
    record_id: bytes
    payload_hash: bytes


def _raise_for(response: httpx.Response) -> Any:
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code >= 400:
        if isinstance(document, dict) and "error" in document:
            raise ApiError(response.status_code, str(document["error"]),
                           str(document.get("message")), document.get("field"))
        raise ApiError(response.status_code, "http_error", response.text[:200])
    return document


class NodeClient:
    """HTTP access to one node."""

    def __init__(self, url: str, http: httpx.Client | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout_s)
        self._status: dict[str, Any] | None = None
        self._contracts: Contracts | None = None
        self._rpc_id = 0

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def status(self, fresh: bool = False) -> dict[str, Any]:
        """GET /status (cached unless `fresh`)."""
        if self._status is None or fresh:
            self._status = _raise_for(self.http.get(f"{self.url}/status"))
        return self._status

    @property
    def node_id(self) -> str:
        """The node's id (signed requests name it)."""
        return str(self.status()["node_id"])

    @property
    def chain_id(self) -> int:
        """The chain id transactions and requests are signed for."""
        return int(self.status()["chain_id"])

    def contracts(self) -> Contracts:
        """The contract addresses (cached)."""
        if self._contracts is None:
            listed = {item["name"]: bytes.fromhex(item["address"][2:])
                      for item in self.get("/v1/contracts")["contracts"]}
            self._contracts = Contracts(listed["Consortium"], listed["CreditRegistry"],
                                        listed["Authorization"])
        return self._contracts

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET a JSON document; ApiError on a refusal."""
        return _raise_for(self.http.get(f"{self.url}{path}", headers=headers))

    def post(self, path: str, document: dict[str, Any]) -> Any:
        """POST a JSON document; ApiError on a refusal."""
        return _raise_for(self.http.post(f"{self.url}{path}", json=document))

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; RpcCallError on an error answer."""
        self._rpc_id += 1
        answer = _raise_for(self.http.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": self._rpc_id, "method": method, "params": list(params)}))
        if "error" in answer:
            error = answer["error"]
            raise RpcCallError(int(error["code"]), str(error["message"]), error.get("data"))
        return answer["result"]

    def signed_headers(self, key: PrivateKey, path: str, method: str = "GET") -> dict[str, str]:
        """Headers signing one request to this node."""
        return sign_request(key, self.chain_id, self.node_id, method, path,
                            int(time.time() * 1000))

    def signed_get(self, key: PrivateKey, path: str) -> Any:
        """A signed GET; ApiError on a refusal."""
        return self.get(path, headers=self.signed_headers(key, path))

    def transaction(self, transaction_hash: str) -> dict[str, Any]:
        """GET /v1/transactions/{hash}."""
        return dict(self.get(f"/v1/transactions/{transaction_hash}"))

    def wait_committed(self, transaction_hash: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until the transaction commits here; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                found = self.transaction(transaction_hash)
            except ApiError as error:
                if error.status != 404:
                    raise
            else:
                if found["status"] == "committed":
                    return found
            time.sleep(COMMIT_POLL_S)
        raise TimeoutError(f"{transaction_hash} not committed at {self.url} in {timeout_s} s")

    def anchored_root(self, node_id: str, batch_seq: int) -> bytes:
        """The audit root the chain holds for a node's batch (eth_call audit_root)."""
        output = self.rpc("eth_call", {
            "to": "0x" + self.contracts().authorization.hex(),
            "data": "0x" + bindings.encode_audit_root(node_id_bytes32(node_id),
                                                      batch_seq).hex()}, "latest")
        return bindings.decode_bytes32(bytes.fromhex(output[2:]))

    def verify_audit_proof(self, document: dict[str, Any]) -> bool:
        """Check a proof answer ourselves: leaf = entry, path -> root, root on chain."""
        proof = proof_from_json(document)
        root = self.anchored_root(proof.entry.node_id, proof.batch.batch_seq)
        return check_proof(proof, root if any(root) else None)


class Institution:
    """A member institution signing with its own key through its home node."""

    def __init__(self, key: PrivateKey, node: NodeClient) -> None:
        self.key = key
        self.node = node
        self._nonce: int | None = None

    @property
    def address(self) -> Address:
        """The institution's account."""
        return self.key.address

    def next_nonce(self) -> int:
        """The nonce of the next transaction (asked once, then counted here)."""
        if self._nonce is None:
            self._nonce = int(self.node.rpc("eth_getTransactionCount",
                                            "0x" + self.address.hex(), "pending"), 16)
        nonce = self._nonce
        self._nonce += 1
        return nonce

    @property
    def signer(self) -> builder.TransactionSigner:
        """How this institution signs: its key, the node's chain, legacy transactions."""
        return builder.TransactionSigner(self.key, self.node.chain_id)

    def sign(self, to: Address, data: bytes) -> bytes:
        """A signed transaction calling `to` with `data`, at the next nonce."""
        return self.signer.sign(self.next_nonce(), to, data)

    def _submit(self, path: str, document: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self.node.post(path, document))
        except ApiError:
            self._nonce = None
            raise

    def _submit_publish(self, signed: builder.SignedPublish, record: CreditRecord) -> Published:
        answer = self._submit("/v1/records", {"raw": "0x" + signed.raw.hex(),
                                              "payload": record.to_json_object()})
        return Published(answer["transaction_hash"], signed.record_id, signed.payload_hash)

    def publish(self, record: CreditRecord, salt: int = 0) -> Published:
        """Publish a record: hash on chain, payload to the home node's record store."""
        return self._submit_publish(builder.build_publish(
            self.signer, self.next_nonce(), self.node.contracts().registry, record, salt), record)

    def correct(self, old_record_id: bytes, record: CreditRecord, salt: int = 1) -> Published:
        """Publish a new version of one of our records."""
        return self._submit_publish(builder.build_correct(
            self.signer, self.next_nonce(), self.node.contracts().registry, old_record_id,
            record, salt), record)

    def submit_grant(self, enterprise: EnterpriseId, signature: EnterpriseSignature,
                     scope: int, expires_at_s: int, grant_nonce: int) -> str:
        """Submit an enterprise's signed grant to us (we are the querier)."""
        raw = builder.build_grant(self.signer, self.next_nonce(),
                                  self.node.contracts().authorization,
                                  builder.Consent(enterprise, self.address, scope, expires_at_s,
                                                  grant_nonce, signature))
        return str(self._submit("/v1/grants", {"raw": "0x" + raw.hex()})["transaction_hash"])

    def submit_revocation(self, enterprise: EnterpriseId, querier: Address,
                          signature: EnterpriseSignature, grant_nonce: int) -> str:
        """Submit an enterprise's signed revocation of its grant to `querier`."""
        raw = builder.build_revoke_grant(self.signer, self.next_nonce(),
                                         self.node.contracts().authorization,
                                         builder.Withdrawal(enterprise, querier, grant_nonce,
                                                            signature))
        return str(self._submit("/v1/grants/revocations",
                                {"raw": "0x" + raw.hex()})["transaction_hash"])

    def open_dispute(self, record_id: bytes, reason: str) -> tuple[str, bytes]:
        """Contest a record for an enterprise; returns (transaction hash, dispute id)."""
        signed = builder.build_open_dispute(self.signer, self.next_nonce(),
                                            self.node.contracts().registry, record_id,
                                            keccak(reason.encode("utf-8")))
        answer = self._submit("/v1/disputes", {"raw": "0x" + signed.raw.hex()})
        return str(answer["transaction_hash"]), signed.dispute_id

    def respond(self, dispute_id: bytes, response: str) -> str:
        """As the record's publisher, answer a dispute."""
        raw = builder.build_respond(self.signer, self.next_nonce(),
                                    self.node.contracts().registry, dispute_id,
                                    keccak(response.encode("utf-8")))
        return str(self._submit(f"/v1/disputes/0x{dispute_id.hex()}/response",
                                {"raw": "0x" + raw.hex()})["transaction_hash"])

    def resolve(self, dispute_id: bytes, upheld: bool) -> str:
        """As a regulator, decide a dispute."""
        raw = builder.build_resolve(self.signer, self.next_nonce(),
                                    self.node.contracts().registry, dispute_id, upheld)
        return str(self._submit(f"/v1/disputes/0x{dispute_id.hex()}/resolution",
                                {"raw": "0x" + raw.hex()})["transaction_hash"])

    def report(self, credit_code: str) -> dict[str, Any]:
        """The enterprise's report (a signed query; needs its grant)."""
        return dict(self.node.signed_get(self.key, f"/v1/enterprises/{credit_code}/report"))

    def trail(self, credit_code: str, limit: int = 100) -> dict[str, Any]:
        """An enterprise's audit trail (regulators only)."""
        return dict(self.node.signed_get(
            self.key, f"/v1/enterprises/{credit_code}/queries?limit={limit}"))

    def audit_proof(self, entry_id: str) -> dict[str, Any]:
        """The inclusion proof of an audit entry we made (or any, as a regulator)."""
        return dict(self.node.signed_get(self.key, f"/v1/audit/proof/{entry_id}"))


class Enterprise:
    """An enterprise: signs grants and revocations, reads its own trail."""

    def __init__(self, key: PrivateKey, credit_code: EnterpriseId, node: NodeClient) -> None:
        self.key = key
        self.credit_code = credit_code
        self.node = node

    def grant_nonce(self) -> int:
        """The nonce the enterprise's next grant or revocation must carry."""
        return int(self.node.get(f"/v1/enterprises/{self.credit_code.code}")["grant_nonce"])

    def sign_grant(self, querier: Address, expires_at_s: int, scope: int = ALL_KINDS_SCOPE,
                   grant_nonce: int | None = None) -> tuple[EnterpriseSignature, int]:
        """An EIP-712 grant to `querier`; returns (signature, the nonce it carries)."""
        nonce = self.grant_nonce() if grant_nonce is None else grant_nonce
        consent = builder.sign_consent(self.key, self.node.chain_id,
                                       self.node.contracts().authorization, self.credit_code,
                                       querier, scope, expires_at_s, nonce)
        return consent.signature, nonce

    def sign_revocation(self, querier: Address, grant_nonce: int | None = None) -> tuple[
            EnterpriseSignature, int]:
        """An EIP-712 revocation of the grant to `querier`; returns (signature, nonce)."""
        nonce = self.grant_nonce() if grant_nonce is None else grant_nonce
        withdrawal = builder.sign_withdrawal(self.key, self.node.chain_id,
                                             self.node.contracts().authorization,
                                             self.credit_code, querier, nonce)
        return withdrawal.signature, nonce

    def trail(self, limit: int = 100) -> dict[str, Any]:
        """Who queried this enterprise, from every node (signed with its key)."""
        return dict(self.node.signed_get(
            self.key, f"/v1/enterprises/{self.credit_code.code}/queries?limit={limit}"))

    def audit_proof(self, entry_id: str) -> dict[str, Any]:
        """The inclusion proof of one entry of its trail."""
        return dict(self.node.signed_get(self.key, f"/v1/audit/proof/{entry_id}"))
