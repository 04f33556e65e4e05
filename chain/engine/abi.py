"""The contracts' ABI as the native handlers speak it: calls in, return data, logs and reverts out.

Decoding is as strict as Vyper's: short calldata, dirty padding of an address or a small
integer, a boolean other than 0 or 1, a string or array above its declared bound — each is a
revert with no reason, as the Vyper code gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode

from chain.abi_memo import decode_remembered
from chain.crypto import Address
from chain.execution import Log
from contracts import bindings
from contracts.events import EVENT_LAYOUTS, Event, decode_static_word
from contracts.functions import ContractFunction

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_TOPICS = {event_class: layout.topic for event_class, layout in EVENT_LAYOUTS.items()}
"""topic0 of each event, hashed once (the layouts compute it on every access)."""
ARRAY_BOUND = bindings.PUBLISH_BATCH_LIMIT  # DynArray[..., 64] in every batch function
STRING_BOUND = bindings.INSTITUTION_NAME_LIMIT  # String[64]


@dataclass(eq=False)
class Revert(Exception):
    """A handler refuses the call: the transaction reverts with this reason (None: no reason).

    Control flow inside the engine only; it becomes a failed receipt or call result.
    """

    reason: str | None = None


def require(condition: bool, reason: str) -> None:
    """Vyper's `assert condition, reason`."""
    if not condition:
        raise Revert(reason)


STATIC_TYPES = frozenset({"bytes32", "address", "bool", "uint8", "uint16", "uint256"})


def _decode_static(types: tuple[str, ...], calldata: bytes) -> tuple[Any, ...]:
    if len(calldata) < 4 + 32 * len(types):
        raise Revert(None)
    try:
        return tuple(decode_static_word(abi_type, calldata[4 + 32 * i:36 + 32 * i])
                     for i, abi_type in enumerate(types))
    except ValueError as error:
        raise Revert(None) from error


def _encode_static(abi_type: str, value: Any) -> bytes:
    if abi_type == "bytes32":
        return bytes(value).ljust(32, b"\0")
    if abi_type == "address":
        return bytes(value).rjust(32, b"\0")
    return int(value).to_bytes(32, "big")


def decode_arguments(function: ContractFunction, calldata: bytes) -> tuple[Any, ...]:
    """The arguments of a call, checked the way the Vyper decoder checks them."""
    if all(abi_type in STATIC_TYPES for abi_type in function.input_types):
        return _decode_static(function.input_types, calldata)
    try:
        arguments = decode_remembered(tuple(function.input_types), bytes(calldata[4:]))
    except Exception as error:  # eth_abi raises several unrelated exception types
        raise Revert(None) from error
    for abi_type, value in zip(function.input_types, arguments, strict=True):
        if abi_type.endswith("[]") and len(value) > ARRAY_BOUND:
            raise Revert(None)
        if abi_type == "string" and len(value.encode("utf-8")) > STRING_BOUND:
            raise Revert(None)
    return tuple(_plain(abi_type, value) for abi_type, value in
                 zip(function.input_types, arguments, strict=True))


def _plain(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return bytes.fromhex(value[2:])
    if abi_type == "address[]":
        return tuple(bytes.fromhex(item[2:]) for item in value)
    return value


def encode_output(function: ContractFunction, values: Sequence[Any]) -> bytes:
    """The return data of a view."""
    return encode(list(function.output_types), list(values))


def encode_revert(reason: str | None) -> bytes:
    """The revert data: `Error(string)` with the reason, or nothing."""
    if reason is None:
        return b""
    return ERROR_SELECTOR + encode(["string"], [reason])


@dataclass(frozen=True, slots=True)
class _LogShape:
    """How an event class lays out its log: worked out once per class, not per event."""

    topic: bytes
    indexed: tuple[tuple[str, str], ...]  # (field, ABI type) in topic order
    data: tuple[tuple[str, str], ...]  # (field, ABI type) in data order
    static_data: bool  # every data field is one static word


def _log_shape(event_class: type[Event]) -> _LogShape:
    fields = EVENT_LAYOUTS[event_class].fields
    data = tuple((field.name, field.abi_type) for field in fields if not field.indexed)
    return _LogShape(_TOPICS[event_class],
                     tuple((field.name, field.abi_type) for field in fields if field.indexed),
                     data, all(abi_type in STATIC_TYPES for _, abi_type in data))


_LOG_SHAPES = {event_class: _log_shape(event_class) for event_class in EVENT_LAYOUTS}


def event_log(address: Address, event: Event) -> Log:
    """The log a contract at `address` emits for `event` (topics and data as Vyper lays them)."""
    shape = _LOG_SHAPES[type(event)]
    topics = (shape.topic, *(_encode_static(abi_type, getattr(event, name))
                             for name, abi_type in shape.indexed))
    if shape.static_data:
        data = b"".join([_encode_static(abi_type, getattr(event, name))
                         for name, abi_type in shape.data])
    else:
        data = encode([abi_type for _, abi_type in shape.data],
                      [getattr(event, name) for name, _ in shape.data])
    return Log(address=address, topics=topics, data=data, event=event)
