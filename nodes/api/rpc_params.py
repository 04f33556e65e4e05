"""JSON-RPC parameters and errors: quantities, data, addresses, block tags and log criteria.

Shared by the HTTP endpoint (`nodes/api/rpc.py`), filters (`nodes/api/rpc_filters.py`) and
WebSocket subscriptions (`nodes/api/rpc_subscriptions.py`), so every entry point reads its
parameters the same way and answers a malformed one with -32602.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.crypto import Address

MAX_QUANTITY_HEX_DIGITS = 64  # a uint256
MAX_TOPIC_POSITIONS = 4  # LOG0..LOG4
MAX_CRITERIA_VALUES = 1_000  # addresses or topics one filter may list


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def invalid_params(message: str) -> RpcError:
    """-32602."""
    return RpcError(-32602, message)


def param(params: list[Any], index: int, default: Any = ...) -> Any:
    """The positional parameter `index`, or `default` when it is absent (required otherwise)."""
    if index < len(params):
        return params[index]
    if default is ...:
        raise invalid_params(f"missing parameter {index}")
    return default


def parse_quantity(value: Any, name: str) -> int:
    """A 0x-hex quantity."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or (
            len(value) > MAX_QUANTITY_HEX_DIGITS + 2):
        raise invalid_params(f"{name} must be a 0x-hex quantity")
    try:
        return int(value, 16)
    except ValueError as error:
        raise invalid_params(f"{name} must be a 0x-hex quantity") from error


def parse_data(value: Any, name: str, length: int | None = None) -> bytes:
    """0x-hex data, optionally of an exact length."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise invalid_params(f"{name} must be 0x-hex data")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError as error:
        raise invalid_params(f"{name} must be 0x-hex data") from error
    if length is not None and len(raw) != length:
        raise invalid_params(f"{name} must be {length} bytes")
    return raw


def parse_address(value: Any, name: str = "address") -> Address:
    """A 20-byte address."""
    return parse_data(value, name, 20)


@dataclass(frozen=True, slots=True)
class LogCriteria:
    """Which logs a query, filter or subscription wants: addresses and topics by position.

    `addresses` None means any address; a topic position None means any topic there.
    """

    addresses: frozenset[bytes] | None
    topics: tuple[frozenset[bytes] | None, ...]

    def matches(self, address: bytes, log_topics: tuple[bytes, ...]) -> bool:
        """Whether a log with this address and these topics is wanted."""
        if self.addresses is not None and address not in self.addresses:
            return False
        for position, wanted in enumerate(self.topics):
            if wanted is None:
                continue
            if position >= len(log_topics) or log_topics[position] not in wanted:
                return False
        return True


def parse_log_criteria(query: dict[str, Any]) -> LogCriteria:
    """The `address` and `topics` members of a filter object."""
    return LogCriteria(_addresses(query.get("address")), _topics(query.get("topics")))


def _addresses(value: Any) -> frozenset[bytes] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_CRITERIA_VALUES:
        raise invalid_params(f"at most {MAX_CRITERIA_VALUES} addresses per filter")
    return frozenset(parse_address(item) for item in values)


def _topics(value: Any) -> tuple[frozenset[bytes] | None, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TOPIC_POSITIONS:
        raise invalid_params(f"topics must be an array of at most {MAX_TOPIC_POSITIONS} "
                             "positions")
    positions: list[frozenset[bytes] | None] = []
    for position in value:
        if position is None:
            positions.append(None)
        elif isinstance(position, list):
            if len(position) > MAX_CRITERIA_VALUES:
                raise invalid_params(f"at most {MAX_CRITERIA_VALUES} topics per position")
            positions.append(frozenset(parse_data(topic, "topic", 32) for topic in position))
        else:
            positions.append(frozenset({parse_data(position, "topic", 32)}))
    return tuple(positions)
