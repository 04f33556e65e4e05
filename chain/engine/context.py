"""What a native handler sees of its call: who calls, in which block, on which chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.crypto import Address
from chain.execution import Log


@dataclass(frozen=True, slots=True)
class SystemAddresses:
    """Where the three system contracts live (their genesis addresses)."""

    consortium: Address
    registry: Address
    authorization: Address


@dataclass(frozen=True, slots=True)
class CallContext:
    """One call to a system contract.

    sender: `msg.sender`; height: `block.number`; timestamp: `block.timestamp` in seconds.
    """

    sender: Address
    height: int
    timestamp: int
    chain_id: int
    addresses: SystemAddresses


@dataclass(frozen=True, slots=True)
class HandlerResult:
    """A successful call: its return data and the logs it emitted, in order."""

    output: bytes = b""
    logs: tuple[Log, ...] = field(default_factory=tuple)
