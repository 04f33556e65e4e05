"""The table of contract functions: name, contract, ABI types, selector, role needed.

One row per function of the three contracts. Encoders look their selector up here, and a node
uses `selector_of` and `function_for` to learn which function a transaction calls and which
roles its sender must hold before the transaction enters the mempool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from eth_utils.crypto import keccak

from contracts.constants import (
    ALL_ROLES,
    NO_ROLE,
    ROLE_NODE,
    ROLE_PUBLISHER,
    ROLE_QUERIER,
    ROLE_REGULATOR,
)

SELECTOR_SIZE = 4
"""Bytes of calldata naming the function."""


@dataclass(frozen=True, slots=True)
class ContractFunction:
    """One external function of a contract."""

    name: str
    """The function's name, unique across the three contracts."""
    contract: str
    """The contract declaring it ("Consortium", "CreditRegistry" or "Authorization")."""
    input_types: tuple[str, ...]
    """ABI types of the arguments."""
    output_types: tuple[str, ...]
    """ABI types of the results."""
    required_roles: int
    """Role bits of which the sender must hold at least one; `NO_ROLE` when anyone may call."""
    changes_state: bool
    """False for views."""

    @property
    def signature(self) -> str:
        """The canonical signature hashed into the selector, e.g. `publish(bytes32,...)`."""
        return f"{self.name}({','.join(self.input_types)})"

    @property
    def selector(self) -> bytes:
        """The first four bytes of the keccak hash of the signature."""
        return _selector_of_signature(self.signature)


@cache
def _selector_of_signature(signature: str) -> bytes:
    return keccak(text=signature)[:SELECTOR_SIZE]


def _transaction(name: str, contract: str, roles: int, *input_types: str) -> ContractFunction:
    return ContractFunction(name, contract, input_types, (), roles, changes_state=True)


def _view(
    name: str, contract: str, input_types: tuple[str, ...], *output_types: str
) -> ContractFunction:
    return ContractFunction(name, contract, input_types, output_types, NO_ROLE, False)


_CONSORTIUM = "Consortium"
_REGISTRY = "CreditRegistry"
_AUTHORIZATION = "Authorization"
_BATCH = "bytes32[]"

_ALL_FUNCTIONS = (
    _transaction("admit", _CONSORTIUM, ROLE_REGULATOR, "address", "uint256", "uint16", "string"),
    _transaction("set_roles", _CONSORTIUM, ROLE_REGULATOR, "address", "uint256"),
    _transaction("suspend", _CONSORTIUM, ROLE_REGULATOR, "address"),
    _transaction("reinstate", _CONSORTIUM, ROLE_REGULATOR, "address"),
    _transaction("remove", _CONSORTIUM, ROLE_REGULATOR, "address"),
    _transaction("add_validator", _CONSORTIUM, ROLE_REGULATOR, "bytes32", "uint16"),
    _transaction("remove_validator", _CONSORTIUM, ROLE_REGULATOR, "bytes32"),
    _view("has_role", _CONSORTIUM, ("address", "uint256"), "bool"),
    _view("institution", _CONSORTIUM, ("address",), "uint256", "uint8", "uint16", "string"),
    _view("is_validator", _CONSORTIUM, ("bytes32",), "bool"),
    _view("validator_city", _CONSORTIUM, ("bytes32",), "uint16"),
    _view("validator_count", _CONSORTIUM, (), "uint256"),
    _view("regulator", _CONSORTIUM, (), "address"),
    _transaction("publish", _REGISTRY, ROLE_PUBLISHER, "bytes32", "bytes32", "uint8", "bytes32"),
    _transaction("publish_batch", _REGISTRY, ROLE_PUBLISHER, _BATCH, _BATCH, "uint8[]", _BATCH),
    _transaction("correct", _REGISTRY, ROLE_PUBLISHER, "bytes32", "bytes32", "bytes32"),
    _transaction("revoke", _REGISTRY, ROLE_PUBLISHER | ROLE_REGULATOR, "bytes32", "uint8"),
    _transaction(
        "open_dispute", _REGISTRY, ROLE_QUERIER | ROLE_REGULATOR, "bytes32", "bytes32", "bytes32"
    ),
    _transaction("respond", _REGISTRY, ROLE_PUBLISHER, "bytes32", "bytes32"),
    _transaction("resolve", _REGISTRY, ROLE_REGULATOR, "bytes32", "bool"),
    _transaction("lapse", _REGISTRY, NO_ROLE, "bytes32"),
    _view(
        "record",
        _REGISTRY,
        ("bytes32",),
        *("bytes32", "uint8", "bytes32", "address", "uint256", "bytes32", "bytes32"),
        *("uint8", "uint256"),
    ),
    _view("record_count", _REGISTRY, ("bytes32",), "uint256"),
    _view("record_at", _REGISTRY, ("bytes32", "uint256"), "bytes32"),
    _view(
        "dispute",
        _REGISTRY,
        ("bytes32",),
        *("bytes32", "address", "bytes32", "bytes32", "uint8", "uint256", "uint256"),
    ),
    _view("dispute_window", _REGISTRY, (), "uint256"),
    _view("consortium", _REGISTRY, (), "address"),
    _transaction(
        "register_enterprise", _AUTHORIZATION, ROLE_PUBLISHER | ROLE_REGULATOR, "bytes32", "address"
    ),
    _transaction(
        "register_enterprise_batch", _AUTHORIZATION, ROLE_PUBLISHER | ROLE_REGULATOR, _BATCH,
        "address[]",
    ),
    _transaction(
        "grant_batch",
        _AUTHORIZATION,
        ROLE_QUERIER,
        *(_BATCH, "uint256[]", "uint256[]", "uint256[]", "uint8[]", _BATCH, _BATCH),
    ),
    _transaction(
        "grant",
        _AUTHORIZATION,
        ROLE_QUERIER,
        *("bytes32", "uint256", "uint256", "uint256", "uint8", "bytes32", "bytes32"),
    ),
    _transaction(
        "revoke_grant",
        _AUTHORIZATION,
        ALL_ROLES,
        *("bytes32", "address", "uint256", "uint8", "bytes32", "bytes32"),
    ),
    _transaction(
        "anchor_audit", _AUTHORIZATION, ROLE_NODE, "bytes32", "uint256", "bytes32", "uint256"
    ),
    _view("enterprise_key", _AUTHORIZATION, ("bytes32",), "address"),
    _view(
        "grant_of", _AUTHORIZATION, ("bytes32", "address"), "uint256", "uint256", "bool", "uint256"
    ),
    _view("is_authorized", _AUTHORIZATION, ("bytes32", "address", "uint8"), "bool"),
    _view("grant_nonce_of", _AUTHORIZATION, ("bytes32",), "uint256"),
    _view("domain_separator", _AUTHORIZATION, (), "bytes32"),
    _view("audit_root", _AUTHORIZATION, ("bytes32", "uint256"), "bytes32"),
    _view("last_audit_seq", _AUTHORIZATION, ("bytes32",), "uint256"),
    _view("audit_account", _AUTHORIZATION, ("bytes32",), "address"),
)

FUNCTIONS: Mapping[str, ContractFunction] = MappingProxyType(
    {function.name: function for function in _ALL_FUNCTIONS}
)
"""Every contract function by name. `consortium` is declared by CreditRegistry and
Authorization alike (same signature, same selector); the table names CreditRegistry."""

_FUNCTIONS_BY_SELECTOR: Mapping[bytes, ContractFunction] = MappingProxyType(
    {function.selector: function for function in _ALL_FUNCTIONS}
)


class UnknownFunctionError(ValueError):
    """Calldata whose first four bytes name no function of the contracts."""

    def __init__(self, selector: bytes) -> None:
        super().__init__(f"expected the selector of a contract function, got 0x{selector.hex()}")
        self.selector = selector


def function_for(calldata: bytes) -> ContractFunction:
    """The function a transaction's calldata calls; raises `UnknownFunctionError`."""
    selector = bytes(calldata[:SELECTOR_SIZE])
    function = _FUNCTIONS_BY_SELECTOR.get(selector)
    if function is None:
        raise UnknownFunctionError(selector)
    return function


def selector_of(calldata: bytes) -> str:
    """The name of the function a calldata calls, e.g. "publish"; raises `UnknownFunctionError`."""
    return function_for(calldata).name
