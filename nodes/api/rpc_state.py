"""JSON-RPC reads of state: nonces, code, balances, storage, calls, gas, access lists, proofs.

Calls run read-only on py-evm against a committed state root (`chain/execution.py`); proofs are
read from the same trie nodes the ledger commits. `eth_getProof` answers -32001 when the block's
state root is not the root of a Merkle-Patricia trie in the store (state kept in tables has no
such proof; docs/spec/json-rpc.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rlp
from trie.hexary import HexaryTrie

from chain.crypto import Address, address_text, keccak
from chain.execution import (
    BLANK_ROOT_HASH,
    BlockEnvironment,
    CallResult,
    read_storage,
    trace_access_list,
)
from chain.genesis import NATIVE_ENGINE
from chain.ledger import ZERO_ADDRESS, Ledger
from nodes.api.eth_shapes import data, quantity
from nodes.api.rpc_params import (
    RpcError,
    invalid_params,
    param,
    parse_address,
    parse_data,
    parse_quantity,
)

ESTIMATE_MARGIN_NUMERATOR = 3  # estimates are 1.5x the measured gas plus a fixed allowance
ESTIMATE_MARGIN_DENOMINATOR = 2
ESTIMATE_ALLOWANCE_GAS = 30_000
MAX_ESTIMATE_GAS = 30_000_000
MAX_PROOF_SLOTS = 256  # storage keys one eth_getProof may ask for
NO_PROOF = -32001
EMPTY_CODE_HASH = keccak(b"")


class _TrieNodes:
    """The store's trie nodes as the mapping `trie.HexaryTrie` reads."""

    def __init__(self, load: Callable[[bytes], bytes | None]) -> None:
        self.load = load

    def __getitem__(self, key: bytes) -> bytes:
        node = self.load(key)
        if node is None:
            raise KeyError(key)
        return node

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self.load(key) is not None


class StateReads:
    """eth_getTransactionCount, eth_getCode, eth_call, eth_getProof, ... of one ledger."""

    def __init__(self, ledger: Ledger, height_of: Callable[[Any], int]) -> None:
        self.ledger = ledger
        self.height_of = height_of

    def methods(self) -> dict[str, Callable[[list[Any]], Any]]:
        """The JSON-RPC methods this class answers."""
        return {
            "eth_getTransactionCount": self.transaction_count,
            "eth_getCode": self.code,
            "eth_getBalance": self.balance,
            "eth_getStorageAt": self.storage_at,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_createAccessList": self.create_access_list,
            "eth_getProof": self.proof,
        }

    def _environment(self, height: int) -> tuple[bytes, BlockEnvironment]:
        header = self.ledger.block(height).header
        return header.state_root, BlockEnvironment(
            height=height, timestamp_ms=header.timestamp_ms, coinbase=ZERO_ADDRESS,
            chain_id=self.ledger.chain_id)

    def _account(self, address: Address, height: int) -> Any:
        state_root, environment = self._environment(height)
        return self.ledger.executor.read_account(self.ledger.store, state_root, environment,
                                                 address)

    def transaction_count(self, params: list[Any]) -> str:
        """eth_getTransactionCount(address, tag): "pending" counts the mempool."""
        address = parse_address(param(params, 0))
        tag = param(params, 1, "latest")
        if tag == "pending":
            return quantity(self.ledger.pending_nonce(address))
        height = self.height_of(tag)
        if height == self.ledger.head.height:
            return quantity(self.ledger.next_nonce(address))
        return quantity(self._account(address, height).nonce)

    def code(self, params: list[Any]) -> str:
        """eth_getCode(address, tag)."""
        address = parse_address(param(params, 0))
        return data(self._account(address, self.height_of(param(params, 1, "latest"))).code)

    def balance(self, params: list[Any]) -> str:
        """eth_getBalance(address, tag): zero for every account (ADR 0001: no currency)."""
        address = parse_address(param(params, 0))
        return quantity(self._account(address, self.height_of(param(params, 1,
                                                                        "latest"))).balance)

    def storage_at(self, params: list[Any]) -> str:
        """eth_getStorageAt(address, slot, tag)."""
        address = parse_address(param(params, 0))
        slot = parse_quantity(param(params, 1), "slot")
        state_root, environment = self._environment(self.height_of(param(params, 2, "latest")))
        value = read_storage(self.ledger.store, self.ledger.evm_root(state_root), environment,
                             address, slot)
        return data(value.to_bytes(32, "big"))

    # Calls -----------------------------------------------------------------------------

    def _call_arguments(self, params: list[Any]) -> tuple[bytes, BlockEnvironment, Address,
                                                          Address, bytes]:
        call = param(params, 0)
        if not isinstance(call, dict):
            raise invalid_params("the call must be an object with to and data")
        to = parse_address(call["to"], "to") if call.get("to") else b""  # b"": a deployment
        sender = parse_address(call["from"], "from") if call.get("from") else ZERO_ADDRESS
        calldata = parse_data(call.get("data", call.get("input", "0x")), "data")
        height = self.height_of(param(params, 1, "latest"))
        state_root, environment = self._environment(height)
        environment = BlockEnvironment(height + 1, max(environment.timestamp_ms,
                                                       self.ledger.head.timestamp_ms),
                                       ZERO_ADDRESS, self.ledger.chain_id)
        return state_root, environment, sender, to, calldata

    def _call(self, params: list[Any]) -> CallResult:
        state_root, environment, sender, to, calldata = self._call_arguments(params)
        return self.ledger.executor.call_contract(self.ledger.store, state_root, environment,
                                                  sender, to, calldata)

    def call(self, params: list[Any]) -> str:
        """eth_call(call, tag): error 3 with the revert data when the call reverts."""
        return data(_succeeded(self._call(params)).output)

    def estimate_gas(self, params: list[Any]) -> str:
        """eth_estimateGas(call): exact for the system contracts under the native engine (their
        fixed schedule); for py-evm code, the measured gas with a margin (never charged)."""
        result = _succeeded(self._call(params))
        to = param(params, 0).get("to")
        if self.ledger.gas_estimate_is_exact(parse_address(to, "to") if to else b""):
            return quantity(result.gas_used)
        estimate = (result.gas_used * ESTIMATE_MARGIN_NUMERATOR // ESTIMATE_MARGIN_DENOMINATOR
                    + ESTIMATE_ALLOWANCE_GAS)
        target = param(params, 0).get("to")
        return quantity(min(estimate, MAX_ESTIMATE_GAS,
                            self.ledger.gas_cap(parse_address(target, "to") if target else b"")))

    def create_access_list(self, params: list[Any]) -> dict[str, Any]:
        """eth_createAccessList(call, tag): the accounts and slots the call touches.

        A system contract under the native engine keeps table rows, not storage slots: its call
        touches no EVM account, so its list is empty and its gas the exact schedule's."""
        state_root, environment, sender, to, calldata = self._call_arguments(params)
        if self.ledger.gas_estimate_is_exact(to):
            result = self._call(params)
            native: dict[str, Any] = {"accessList": [], "gasUsed": quantity(result.gas_used)}
            if not result.success:
                native["error"] = f"execution reverted: {result.revert_reason or ''}".rstrip(": ")
            return native
        traced = trace_access_list(self.ledger.store, self.ledger.evm_root(state_root),
                                   environment, sender, to,
                                   calldata)
        document: dict[str, Any] = {
            "accessList": [{"address": address_text(address),
                            "storageKeys": [data(slot.to_bytes(32, "big")) for slot in slots]}
                           for address, slots in traced.entries],
            "gasUsed": quantity(traced.call.gas_used),
        }
        if not traced.call.success:
            document["error"] = f"execution reverted: {traced.call.revert_reason or ''}".rstrip(
                ": ")
        return document

    # Proofs ----------------------------------------------------------------------------

    def proof(self, params: list[Any]) -> dict[str, Any]:
        """eth_getProof(address, storageKeys, tag): EIP-1186 account and storage proofs."""
        address = parse_address(param(params, 0))
        keys = param(params, 1)
        if not isinstance(keys, list) or len(keys) > MAX_PROOF_SLOTS:
            raise invalid_params(f"storageKeys must be an array of at most {MAX_PROOF_SLOTS}")
        slots = [parse_quantity(key, "storageKey") for key in keys]
        height = self.height_of(param(params, 2, "latest"))
        state_root = self.ledger.block(height).header.state_root
        nodes = _TrieNodes(self.ledger.store.load_state_node)
        if self.ledger.genesis.engine == NATIVE_ENGINE:
            raise RpcError(NO_PROOF, f"block {height}'s state root commits to table rows and an "
                           "EVM account root (the native engine, ADR 0008), not to one "
                           "Merkle-Patricia trie; no proof can be given")
        if state_root != BLANK_ROOT_HASH and state_root not in nodes:
            raise RpcError(NO_PROOF, f"block {height}'s state root is not a Merkle-Patricia "
                           "trie root in this node's store; no proof can be given")
        account_trie = HexaryTrie(nodes, state_root)
        account_key = keccak(address)
        encoded = account_trie.get(account_key)
        nonce, balance, storage_root, code_hash = (
            rlp.decode(encoded) if encoded else (b"", b"", BLANK_ROOT_HASH, EMPTY_CODE_HASH))
        storage_trie = HexaryTrie(nodes, storage_root)
        return {
            "address": address_text(address),
            "accountProof": [data(rlp.encode(node))
                             for node in account_trie.get_proof(account_key)],
            "balance": quantity(int.from_bytes(balance, "big")),
            "codeHash": data(code_hash),
            "nonce": quantity(int.from_bytes(nonce, "big")),
            "storageHash": data(storage_root),
            "storageProof": [self._slot_proof(storage_trie, slot) for slot in slots],
        }

    @staticmethod
    def _slot_proof(storage_trie: HexaryTrie, slot: int) -> dict[str, Any]:
        key = keccak(slot.to_bytes(32, "big"))
        encoded = storage_trie.get(key)
        value = int.from_bytes(rlp.decode(encoded), "big") if encoded else 0
        return {"key": data(slot.to_bytes(32, "big")), "value": quantity(value),
                "proof": [data(rlp.encode(node)) for node in storage_trie.get_proof(key)]}


def _succeeded(result: CallResult) -> CallResult:
    if not result.success:
        raise RpcError(3, f"execution reverted: {result.revert_reason or ''}".rstrip(": "),
                       data(result.output))
    return result
