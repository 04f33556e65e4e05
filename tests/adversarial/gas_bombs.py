"""Gas bombs against members' own contracts, over JSON-RPC against any node URL.

An admitted publisher (a city's credit bureau) deploys, with `eth_sendRawTransaction`, contracts
whose code never ends on its own: a jump back to itself, a loop that grows memory a kilobyte
per turn, a single read 4 GiB away, and a constructor that loops. Then every way in is tried:

- `eth_call` and `eth_estimateGas` to each bomb, with and without an absurd `gas` field: each
  answers a JSON-RPC error (the call stops at the node's call cap), never hangs or 5xx;
- a transaction declaring more gas than the members'-contract cap (deployment or call): refused
  before it is queued, with an error naming `gas`, and the sender's nonce is not burned;
- a transaction to each bomb within the cap: committed, stopped at its gas limit (status 0,
  gas used = its limit), and the chain goes on.

After every case the node must answer `/status`, and afterwards it must still be committing.
The members'-contract caps are the node's (`chain.engine.limits`); nothing here assumes a
particular answer time.

    python -m tests.adversarial.gas_bombs --url http://127.0.0.1:8600
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from chain.engine.limits import MEMBER_TRANSACTION_GAS_LIMIT
from chain.execution import contract_address
from chain.presets import Preset, get_preset
from chain.wallet import sign_legacy
from tests.adversarial.raw_fuzzer import print_outcome

DEPLOYER = "bureau:hangzhou"  # a publisher: may deploy members' contracts
CALLER = "bank:hangzhou"  # any active member may call one
HTTP_TIMEOUT_S = 30.0  # a call stopped at its cap answers well within this
COMMIT_TIMEOUT_S = 60.0
ABSURD_GAS = 10**15

# Runtime code of each bomb (EVM bytecode).
LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: forever
MEMORY_LOOP = bytes.fromhex("5b59610400015150600056")  # read 1 KiB past MSIZE, again and again
FAR_READ = bytes.fromhex("63ffffffff5100")  # MLOAD at 4 GiB: one huge memory expansion
BOMBS = {"loop": LOOP, "memory loop": MEMORY_LOOP, "far read": FAR_READ}


def deployment_code(runtime: bytes) -> bytes:
    """Init code that returns `runtime` as the contract's code."""
    if len(runtime) > 0xFF:
        raise ValueError("runtime code longer than 255 bytes")
    prefix_length = 12
    return bytes([0x60, len(runtime), 0x80, 0x60, prefix_length, 0x60, 0x00, 0x39,
                  0x60, 0x00, 0xF3, 0x00]) + runtime  # PUSH len DUP1 PUSH off PUSH 0 CODECOPY
    # PUSH 0 RETURN STOP


LOOPING_CONSTRUCTOR = LOOP  # init code that never returns


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


@dataclass
class GasBombReport:
    """What the gas bombs saw: the cases run and every failure."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # case -> what the node said

    def summary(self) -> dict[str, object]:
        """A JSON-able summary."""
        return {"cases": self.cases, "failures": len(self.failures)}


class NodeClient:
    """JSON-RPC and /status of one node."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=HTTP_TIMEOUT_S)
        self.ids = 0

    def rpc(self, method: str, *params: Any) -> Any:
        """The result, or RpcError; AssertionError on a 5xx or a non-JSON-RPC answer."""
        self.ids += 1
        response = self.http.post(f"{self.url}/rpc", json={
            "jsonrpc": "2.0", "id": self.ids, "method": method, "params": list(params)})
        assert response.status_code < 500, f"{method}: {response.status_code} {response.text}"
        document = response.json()
        if "error" in document:
            raise RpcError(document["error"])
        return document["result"]

    def height(self) -> int:
        """The node's height from /status (AssertionError unless it answers 200)."""
        response = self.http.get(f"{self.url}/status")
        assert response.status_code == 200, response.text
        return int(response.json()["height"])

    def nonce(self, address: bytes) -> int:
        """The sender's next nonce, pending transactions counted."""
        return int(self.rpc("eth_getTransactionCount", "0x" + address.hex(), "pending"), 16)

    def receipt(self, transaction_hash: str) -> dict[str, Any]:
        """The receipt once committed; AssertionError after COMMIT_TIMEOUT_S."""
        deadline = time.monotonic() + COMMIT_TIMEOUT_S
        while time.monotonic() < deadline:
            receipt = self.rpc("eth_getTransactionReceipt", transaction_hash)
            if receipt is not None:
                return dict(receipt)
            time.sleep(0.2)
        raise AssertionError(f"{transaction_hash} not committed in {COMMIT_TIMEOUT_S:.0f} s")

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def run_gas_bombs(url: str, preset: Preset) -> GasBombReport:
    """Deploy the bombs and try every way in; the report of what went wrong, if anything."""
    node, report = NodeClient(url), GasBombReport()
    deployer, caller = preset.key(DEPLOYER), preset.key(CALLER)

    def case(name: str, check: Callable[[], str]) -> None:
        report.cases += 1
        try:
            report.answers[name] = check()
        except (AssertionError, RpcError, httpx.HTTPError, KeyError, ValueError) as error:
            report.failures.append(f"{name}: {type(error).__name__}: {error}")
        try:
            node.height()
        except (AssertionError, httpx.HTTPError) as error:
            report.failures.append(f"after {name}: /status failed: {error}")

    def send(label_key: Any, to: bytes, data: bytes, gas: int) -> str:
        raw = sign_legacy(label_key, preset.chain_id, node.nonce(label_key.address), to, data,
                          gas=gas)
        return str(node.rpc("eth_sendRawTransaction", "0x" + raw.hex()))

    def refused_above_cap(label_key: Any, to: bytes, data: bytes) -> str:
        before = node.nonce(label_key.address)
        try:
            send(label_key, to, data, MEMBER_TRANSACTION_GAS_LIMIT + 1)
        except RpcError as refusal:
            text = json.dumps(refusal.error)
            assert "gas" in text, f"the refusal does not name gas: {text}"
            assert node.nonce(label_key.address) == before, "a refused transaction took a nonce"
            return text
        raise AssertionError("a transaction above the gas cap was accepted")

    def stopped_at_limit(label_key: Any, to: bytes, data: bytes, gas: int) -> str:
        receipt = node.receipt(send(label_key, to, data, gas))
        assert int(receipt["status"], 16) == 0, f"the bomb succeeded: {receipt}"
        assert int(receipt["gasUsed"], 16) == gas, f"gas used is not its limit: {receipt}"
        return f"status 0, gasUsed {gas}"

    def call_refused(method: str, call: dict[str, str]) -> Callable[[], str]:
        def check() -> str:
            try:
                result = node.rpc(method, call, *(("latest",) if method == "eth_call" else ()))
            except RpcError as refusal:
                text = json.dumps(refusal.error)
                assert "gas" in text.lower(), f"the error does not say the gas ran out: {text}"
                return text
            raise AssertionError(f"{method} to a gas bomb answered {result!r}")
        return check

    try:
        start = node.height()
        addresses: dict[str, bytes] = {}
        for name, runtime in BOMBS.items():
            nonce = node.nonce(deployer.address)
            hash_ = send(deployer, b"", deployment_code(runtime), 200_000)
            receipt = node.receipt(hash_)
            if int(receipt["status"], 16) != 1:
                report.failures.append(f"deploying {name} failed: {receipt}")
                continue
            addresses[name] = contract_address(deployer.address, nonce)
        case("deployment above the cap", lambda: refused_above_cap(
            deployer, b"", deployment_code(LOOP)))
        case("looping constructor at the cap", lambda: stopped_at_limit(
            deployer, b"", LOOPING_CONSTRUCTOR, MEMBER_TRANSACTION_GAS_LIMIT))
        for name, address in addresses.items():
            target = "0x" + address.hex()
            plain = {"from": "0x" + caller.address.hex(), "to": target, "data": "0x"}
            greedy = {**plain, "gas": hex(ABSURD_GAS)}
            for method in ("eth_call", "eth_estimateGas"):
                case(f"{method} to {name}", call_refused(method, plain))
                case(f"{method} to {name} with gas {ABSURD_GAS}", call_refused(method, greedy))
            case(f"transaction to {name} above the cap",
                 partial(refused_above_cap, caller, address, b""))
            case(f"transaction to {name} at the cap",
                 partial(stopped_at_limit, caller, address, b"", MEMBER_TRANSACTION_GAS_LIMIT))
            case(f"transaction to {name} with little gas",
                 partial(stopped_at_limit, caller, address, b"", 50_000))
        case("the node keeps committing", lambda: _advances(node, start))
    finally:
        node.close()
    return report


def _advances(node: NodeClient, start: int) -> str:
    deadline = time.monotonic() + COMMIT_TIMEOUT_S
    while time.monotonic() < deadline:
        height = node.height()
        if height > start + 1:
            return f"height {start} -> {height}"
        time.sleep(0.5)
    raise AssertionError(f"no new block after height {start} in {COMMIT_TIMEOUT_S:.0f} s")


def main() -> int:
    """Command line: run the gas bombs against a node; exit status 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--preset", default="local4")
    arguments = parser.parse_args()
    report = run_gas_bombs(arguments.url, get_preset(arguments.preset))
    for name, answer in report.answers.items():
        print(f"{name}: {answer[:160]}")
    return print_outcome(report.summary(), report.failures)


if __name__ == "__main__":
    raise SystemExit(main())
