"""The adversarial battery's cases: over 200 hostile requests, and how a refusal is judged.

Families: malformed, oversized, nested, replayed, unauthorized, cross-site, inadmissible (calls
that would only revert), odd paths and methods. Every case must be refused with a 4xx JSON error
`{error, message, field}` (JSON-RPC: an error object), never a 5xx, never a stack trace or a
secret in the answer (`judge`), and must change nothing.

The cases are signed by a `SigningClient` for one node: the in-process node of
test_battery.py, or a `RemoteNode` — any node URL (`run_battery`, `remote_battery.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.cities import City
from chain.crypto import SECP256K1_ORDER, derive_private_key
from chain.enterprise import make_credit_code
from chain.records import ALL_KINDS_SCOPE
from chain.wallet import sign_digest, sign_legacy
from contracts import bindings
from nodes.query.request_signing import sign_request
from tests.nodes.api_node import SigningClient, tax_record

CODE = "91310115000010014X"
BAD_CODE = b"91310115000010014Y".ljust(32, b"\0")


@dataclass(frozen=True)
class Case:
    """One hostile request: what to send and which statuses are a correct refusal."""

    family: str
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    statuses: tuple[int, ...] = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 431)
    rpc: bool = False


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def build_cases(node: SigningClient) -> list[Case]:
    """Every case; signed ones are signed against this node's keys and chain."""
    preset, genesis = node.preset, node.genesis
    cases: list[Case] = []
    write_routes = ["/v1/transactions", "/v1/records", "/v1/grants", "/v1/grants/revocations",
                    "/v1/disputes", f"/v1/disputes/0x{'ab' * 32}/response",
                    f"/v1/disputes/0x{'ab' * 32}/resolution"]
    malformed = [b"", b"{", b"[]", b"null", b"7", b'"raw"', b'{"raw": 7}', b'{"raw": null}',
                 b'{"raw": "0x"}', b'{"raw": "0xzz"}', b'{"raw": "0x0"}', b'{"raw": "00ff"}',
                 b'{"raw": "0xc0"}', b'{"raw": "0x' + b"ff" * 40 + b'"}', b"\xff\xfe\x00",
                 b'{"raw": "0x01", "payload": 5}']
    for route in write_routes:
        for index, body in enumerate(malformed):
            cases.append(Case("malformed", f"{route} #{index}", "POST", route, body,
                              {"content-type": "application/json"}))
    for route in [*write_routes[:5], "/rpc", "/dashboard/control/links"]:
        cases.append(Case("nested", f"{route} arrays", "POST", route,
                          b"[" * 100_000 + b"]" * 100_000, {"content-type": "application/json"}))
        cases.append(Case("nested", f"{route} objects", "POST", route,
                          b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
                          {"content-type": "application/json"}))
        cases.append(Case("oversized", f"{route} 9 MiB", "POST", route, b" " * (9 * 2**20),
                          {"content-type": "application/json"}))
    cases.append(Case("oversized", "raw of 300 KiB", "POST", "/v1/grants",
                      _json({"raw": "0x" + "00" * 300_000})))
    cases.append(Case("oversized", "payload of 2 MiB", "POST", "/v1/records", _json({
        "raw": "0x00", "payload": "x" * (2 * 2**20)})))
    # Unauthorized: transactions from strangers or members without the role.
    registry, authorization = genesis.contracts.registry, genesis.contracts.authorization
    record = tax_record(preset, "enterprise:shanghai:1")
    for label in ("stranger", "bank:hangzhou", "regulator"):
        body = node.publish_body(label, record) if label != "stranger" else None
        if body is None:
            stranger_raw = sign_legacy(derive_private_key(b"stranger"), preset.chain_id, 0,
                                       registry, bindings.encode_revoke(b"\1" * 32, 1))
            body = {"raw": "0x" + stranger_raw.hex(), "payload": record.to_json_object()}
        cases.append(Case("unauthorized", f"publish by {label}", "POST", "/v1/records",
                          _json(body)))
    revoke = node.sign("bank:hangzhou", registry, bindings.encode_revoke(b"\1" * 32, 1))
    cases.append(Case("unauthorized", "revoke by a bank", "POST", "/v1/transactions",
                      _json({"raw": "0x" + revoke.hex()})))
    regulate = node.sign("bureau:shanghai", genesis.contracts.consortium,
                         bindings.encode_suspend(preset.key("bank:hefei").address))
    cases.append(Case("unauthorized", "consortium call by a bureau", "POST", "/v1/transactions",
                      _json({"raw": "0x" + regulate.hex()})))
    another_node = next(n.node_id for n in preset.nodes if n.node_id != node.node_id)
    for path in (f"/v1/enterprises/{CODE}/report", f"/v1/enterprises/{CODE}/queries",
                 "/v1/audit/proof/shanghai-1.1", "/v1/dashboard/recent"):
        cases.append(Case("unauthorized", f"unsigned {path}", "GET", path))
        stale = sign_request(preset.key("bank:hangzhou"), preset.chain_id, node.node_id, "GET",
                             path, int(time.time() * 1000) - 3_600_000)
        cases.append(Case("unauthorized", f"stale {path}", "GET", path, headers=stale))
        other_node = sign_request(preset.key("bank:hangzhou"), preset.chain_id, another_node, "GET",
                                  path, int(time.time() * 1000))
        cases.append(Case("unauthorized", f"signed for another node {path}", "GET", path,
                          headers=other_node))
        other_path = sign_request(preset.key("bank:hangzhou"), preset.chain_id, node.node_id,
                                  "GET", "/status", int(time.time() * 1000))
        cases.append(Case("unauthorized", f"signature of another path {path}", "GET", path,
                          headers=other_path))
        garbage = {"x-yrd-timestamp": "soon", "x-yrd-nonce": "n" * 300,
                   "x-yrd-signature": "0x" + "ff" * 65}
        cases.append(Case("unauthorized", f"garbage signature {path}", "GET", path,
                          headers=garbage))
    for label in ("bank:hangzhou", "bureau:shanghai", "enterprise:nanjing:1"):
        path = f"/v1/enterprises/{CODE}/queries"
        cases.append(Case("unauthorized", f"trail read by {label}", "GET", path,
                          headers=node.signed_headers(label, path)))
        cases.append(Case("unauthorized", f"full dashboard by {label}", "GET",
                          "/v1/dashboard/recent",
                          headers=node.signed_headers(label, "/v1/dashboard/recent")))
    report = f"/v1/enterprises/{CODE}/report"
    cases.append(Case("unauthorized", "report without consent", "GET", report,
                      headers=node.signed_headers("bank:hefei", report)))
    # Cross-site and control (control is off on this node, and guarded when on).
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        for route in ("links", "heal", "partition", "slow", "burst", "nodes/hefei-1/stop"):
            cases.append(Case("cross-site", f"{route} from {origin}", "POST",
                              f"/dashboard/control/{route}", b"peers=all&cut=true",
                              {"origin": origin,
                               "content-type": "application/x-www-form-urlencoded"}))
    cases.append(Case("cross-site", "text/plain control", "POST", "/dashboard/control/heal",
                      b"{}", {"content-type": "text/plain"}))
    # Inadmissible: calls that would only revert after burning the sender's nonce.
    enterprise = preset.enterprise("enterprise:shanghai:1")
    code32 = enterprise.credit_code.to_bytes32()
    bank = preset.key("bank:hangzhou")
    now_s = int(time.time())

    def grant(signer_label: str, nonce: int = 0, expires: int | None = None,
              scope: int = ALL_KINDS_SCOPE,
              mangle: Callable[[int, bytes, bytes], tuple[int, bytes, bytes]] | None = None,
              enterprise_code: bytes = code32) -> bytes:
        expires_at = now_s + 3600 if expires is None else expires
        digest = bindings.grant_digest(preset.chain_id, authorization, enterprise_code,
                                       bank.address, scope, expires_at, nonce)
        signature = sign_digest(preset.key(signer_label), digest)
        v, r, s = signature.v, signature.r, signature.s
        if mangle is not None:
            v, r, s = mangle(v, r, s)
        return node.sign("bank:hangzhou", authorization, bindings.encode_grant(
            enterprise_code, scope, expires_at, nonce, v, r, s))

    unknown = make_credit_code(City.HEFEI, 55_555_555).to_bytes32()
    grants = {
        "grant signed by another enterprise": grant("enterprise:nanjing:1"),
        "grant signed by the bank": grant("bank:hangzhou"),
        "grant with high s": grant(enterprise.label, mangle=lambda v, r, s: (
            55 - v, r, (SECP256K1_ORDER - int.from_bytes(s, "big")).to_bytes(32, "big"))),
        "grant with v=29": grant(enterprise.label, mangle=lambda v, r, s: (29, r, s)),
        "grant with v=1": grant(enterprise.label, mangle=lambda v, r, s: (1, r, s)),
        "grant with s=0": grant(enterprise.label, mangle=lambda v, r, s: (v, r, bytes(32))),
        "grant with a future nonce": grant(enterprise.label, nonce=3),
        # an hour ago: chain time (the last block's timestamp) may trail the wall clock by seconds
        "grant already expired": grant(enterprise.label, expires=now_s - 3600),
        "grant expiring at genesis": grant(enterprise.label, expires=1),
        "grant of no kind": grant(enterprise.label, scope=0),
        "grant of unknown kinds": grant(enterprise.label, scope=1 << 30),
        "grant for an unknown enterprise": grant(enterprise.label, enterprise_code=unknown),
    }
    for name, raw in grants.items():
        cases.append(Case("inadmissible", name, "POST", "/v1/grants",
                          _json({"raw": "0x" + raw.hex()})))
        cases.append(Case("inadmissible", name + " (rpc)", "POST", "/rpc", _json({
            "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
            "params": ["0x" + raw.hex()]}), rpc=True))
    for index, bad in enumerate((BAD_CODE, b"\xff" * 32, b"\0" * 32, b"31" * 16)):
        raw = node.sign("bureau:shanghai", registry, bindings.encode_publish(
            bytes([index + 1]) * 32, bad, 7, b"\2" * 32))
        for route in ("/v1/records", "/v1/transactions"):
            cases.append(Case("inadmissible", f"publish of bad code {index} at {route}", "POST",
                              route, _json({"raw": "0x" + raw.hex(),
                                            "payload": record.to_json_object()})))
        cases.append(Case("inadmissible", f"publish of bad code {index} (rpc)", "POST", "/rpc",
                          _json({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                 "params": ["0x" + raw.hex()]}), rpc=True))
    unpaid = node.sign("bureau:shanghai", registry, bindings.encode_publish(
        b"\7" * 32, code32, 7, b"\3" * 32))
    cases.append(Case("inadmissible", "publish without payload", "POST", "/v1/transactions",
                      _json({"raw": "0x" + unpaid.hex()})))
    gapped = sign_legacy(preset.key("bureau:nanjing"), preset.chain_id, 5_000, registry,
                         bindings.encode_revoke(b"\1" * 32, 1))
    cases.append(Case("inadmissible", "nonce far ahead", "POST", "/v1/transactions",
                      _json({"raw": "0x" + gapped.hex()})))
    wrong_chain = sign_legacy(preset.key("bureau:nanjing"), 1, 0, registry,
                              bindings.encode_revoke(b"\1" * 32, 1))
    cases.append(Case("inadmissible", "another chain id", "POST", "/v1/transactions",
                      _json({"raw": "0x" + wrong_chain.hex()})))
    # JSON-RPC oddities.
    for name, body in (("jsonrpc 1.0", {"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}),
                       ("no jsonrpc", {"id": 1, "method": "eth_chainId"}),
                       ("unknown method", {"jsonrpc": "2.0", "id": 1, "method": "admin_peers"}),
                       ("bad params", {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance",
                                       "params": [7]}),
                       ("bool id", {"jsonrpc": "2.0", "id": True, "method": "eth_chainId"}),
                       ("empty batch", []), ("batch of 101", [{"jsonrpc": "2.0", "id": i,
                                                              "method": "eth_chainId"}
                                                             for i in range(101)])):
        cases.append(Case("malformed", f"rpc {name}", "POST", "/rpc", _json(body), rpc=True))
    cases.append(Case("malformed", "rpc empty body", "POST", "/rpc", b"", rpc=True))
    # Odd paths and methods.
    for path in ("/v1/blocks/%204", "/v1/blocks/+4", "/v1/blocks/04", "/v1/blocks/-1",
                 "/v1/blocks/1e9", "/v1/blocks/0x10", "/v1/records/0x12",
                 f"/v1/records/{'ab' * 32}", "/v1/enterprises/short",
                 "/v1/enterprises/91310115000010014Y", "/v1/audit/proof/nothing",
                 "/v1/transactions/0x1234", "/dashboard/static/..%2f..%2fetc%2fpasswd",
                 "/dashboard/static/index.html", "/peer/blocks?from=x", "/peer/nothing",
                 "/v1/nothing", "/" + "a" * 5000):
        cases.append(Case("odd path", path[:40], "GET", path))
    for method, path in (("DELETE", "/v1/records"), ("PUT", "/status"), ("PATCH", "/rpc"),
                         ("GET", "/v1/grants"), ("POST", "/status"), ("DELETE", "/rpc")):
        cases.append(Case("odd method", f"{method} {path}", method, path))
    return cases


ACCOUNTS = ("bank:hangzhou", "bank:hefei", "bureau:shanghai", "bureau:nanjing", "regulator")
SECRETS = ("Traceback", "File \"/", ".py\", line", "private", "seed")


def judge(case: Case, status: int, text: str) -> str | None:
    """What is wrong with an answer to a hostile request, or None for a right refusal."""
    problem = None
    if status >= 500:
        problem = f"{status}"
    elif case.rpc:
        document = json.loads(text)
        answers = document if isinstance(document, list) else [document]
        if not answers or any("error" not in answer for answer in answers):
            problem = f"JSON-RPC answered without an error: {text[:200]}"
    elif status not in case.statuses:
        problem = f"status {status}: {text[:200]}"
    elif set(json.loads(text)) != {"error", "message", "field"}:
        problem = f"not an error document: {text[:200]}"
    if any(secret in text for secret in SECRETS):
        problem = f"leaks internals: {text[:200]}"
    return problem
