"""The native engine's gas schedule: a fixed price per function, known before execution.

A transaction to a system contract uses

    TRANSACTION_GAS + calldata gas (EIP-2028: 4 a zero byte, 16 another)
    + FUNCTION_GAS[function] + ITEM_GAS[function] * items

whether it succeeds or reverts, where `items` is the length of a batch's arrays. A call whose
selector names no function of the contract pays the first two terms. The prices are of the
order of what the Vyper code costs on py-evm (storage writes dominate), so a client's gas
limits stay sensible on either engine; they are part of consensus, since `gasUsed` enters the
receipts root. A transaction whose gas limit is below its price reverts with "out of gas" and
uses its whole limit, as on the EVM. `eth_estimateGas` returns the price exactly
(`gas_of_call`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TRANSACTION_GAS = 21_000
"""Every transaction's base price (the EVM's intrinsic gas)."""
CALLDATA_ZERO_BYTE_GAS = 4
CALLDATA_NONZERO_BYTE_GAS = 16
VIEW_GAS = 2_600
"""A view read by `eth_call` or by another contract (one cold storage read)."""

FUNCTION_GAS: Mapping[str, int] = MappingProxyType({
    # Consortium
    "admit": 70_000,
    "set_roles": 10_000,
    "suspend": 10_000,
    "reinstate": 10_000,
    "remove": 10_000,
    "add_validator": 45_000,
    "remove_validator": 10_000,
    # CreditRegistry
    "publish": 110_000,
    "publish_batch": 10_000,
    "correct": 115_000,
    "revoke": 12_000,
    "open_dispute": 130_000,
    "respond": 30_000,
    "resolve": 20_000,
    "lapse": 8_000,
    # Authorization
    "register_enterprise": 25_000,
    "register_enterprise_batch": 10_000,
    "grant_batch": 10_000,
    "grant": 80_000,
    "revoke_grant": 15_000,
    "anchor_audit": 70_000,
})
"""The price of each state-changing function (and of calling it in a transaction)."""

ITEM_GAS: Mapping[str, int] = MappingProxyType({
    "publish_batch": 85_000,
    "register_enterprise_batch": 22_000,
    "grant_batch": 75_000,
})
"""The price of each element of a batch function's arrays."""


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata price."""
    zeros = data.count(0)
    return zeros * CALLDATA_ZERO_BYTE_GAS + (len(data) - zeros) * CALLDATA_NONZERO_BYTE_GAS


def gas_of_call(function_name: str | None, data: bytes, items: int = 0,
                transaction: bool = True) -> int:
    """The gas a call uses: of a transaction, or of a view read by `eth_call`."""
    base = TRANSACTION_GAS if transaction else 0
    if function_name is None:
        return base + calldata_gas(data)
    price = FUNCTION_GAS.get(function_name, VIEW_GAS)
    return base + calldata_gas(data) + price + ITEM_GAS.get(function_name, 0) * items
