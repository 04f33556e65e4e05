"""One call to a system contract: route by address and selector, decode, run, charge gas.

The contract at `to` is found among the three system addresses; the selector must name one of
its functions (`contracts.functions`), else the call reverts with no reason, as Vyper code with
no fallback does. The caller owns the transaction boundary on the tables: it commits the
overlay's transaction when the outcome succeeds and discards it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.crypto import Address
from chain.engine import authorization, consortium, registry
from chain.engine.abi import Revert, decode_arguments, encode_output, encode_revert
from chain.engine.context import CallContext
from chain.engine.gas import gas_of_call
from chain.engine.tables import TableOverlay
from chain.execution import Log
from contracts.functions import ContractFunction, UnknownFunctionError, function_for

SHARED_FUNCTIONS = frozenset({"consortium"})
"""Declared by CreditRegistry and Authorization alike (the function table names one)."""
OUT_OF_GAS = "out of gas"


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one call did: success, return or revert data, logs, gas, and the revert reason."""

    success: bool
    output: bytes
    logs: tuple[Log, ...]
    gas_used: int
    revert_reason: str | None = None


def contract_at(context: CallContext, to: Address) -> str | None:
    """The system contract's name at an address, or None."""
    addresses = context.addresses
    return {addresses.consortium: "Consortium", addresses.registry: "CreditRegistry",
            addresses.authorization: "Authorization"}.get(to)


def function_of(contract: str, data: bytes) -> ContractFunction | None:
    """The function of `contract` a calldata names, or None."""
    try:
        function = function_for(data)
    except UnknownFunctionError:
        return None
    if function.contract != contract and function.name not in SHARED_FUNCTIONS:
        return None
    return function


def _run(tables: TableOverlay, context: CallContext, contract: str, function: ContractFunction,
         arguments: tuple[object, ...]) -> tuple[bytes, tuple[Log, ...]]:
    if function.changes_state:
        module = {"Consortium": consortium, "CreditRegistry": registry,
                  "Authorization": authorization}[contract]
        result = module.TRANSACTIONS[function.name](tables, context, *arguments)
        return result.output, result.logs
    if contract == "Consortium":
        views = consortium.views(tables)
    elif contract == "CreditRegistry":
        views = registry.views(tables, context)
    else:
        views = authorization.views(tables, context)
    return encode_output(function, views[function.name](*arguments)), ()


BATCH_FUNCTIONS = frozenset({"publish_batch", "register_enterprise_batch", "grant_batch"})


def _items(function: ContractFunction, arguments: tuple[object, ...]) -> int:
    if function.name in BATCH_FUNCTIONS and arguments:
        first = arguments[0]
        assert isinstance(first, tuple | list)
        return len(first)
    return 0


def call_system_contract(tables: TableOverlay, context: CallContext, to: Address, data: bytes,
                         gas_limit: int, transaction: bool = True) -> CallOutcome:
    """Run one call on the tables' running transaction. `to` must be a system contract."""
    contract = contract_at(context, to)
    assert contract is not None, "call_system_contract needs a system contract address"
    function = function_of(contract, data)
    if function is None:
        return _refused(None, gas_of_call(None, data, transaction=transaction), gas_limit)
    try:
        arguments = decode_arguments(function, data)
    except Revert as refusal:
        gas = gas_of_call(function.name, data, transaction=transaction)
        return _refused(refusal.reason, gas, gas_limit)
    gas = gas_of_call(function.name, data, _items(function, arguments), transaction)
    if gas > gas_limit:
        return _refused(OUT_OF_GAS, gas, gas_limit)
    try:
        output, logs = _run(tables, context, contract, function, arguments)
    except Revert as refusal:
        return _refused(refusal.reason, gas, gas_limit)
    return CallOutcome(True, output, logs, gas)


def _refused(reason: str | None, gas: int, gas_limit: int) -> CallOutcome:
    if gas > gas_limit:
        return CallOutcome(False, b"", (), gas_limit, OUT_OF_GAS)
    return CallOutcome(False, encode_revert(reason), (), gas, reason)
