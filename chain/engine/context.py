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

    sender: `msg.sender`; height: `block.number`; timestamp: `block.timestamp` in seconds;
    position: the transaction's index in its block (a record version's row keeps it, so the
    transaction that wrote it is found without an index entry per version; ADR 0024).
    """

    sender: Address
    height: int
    timestamp: int
    chain_id: int
    addresses: SystemAddresses
    position: int = 0


@dataclass(frozen=True, slots=True)
class HandlerResult:
    """A successful call: its return data and the logs it emitted, in order."""

    output: bytes = b""
    logs: tuple[Log, ...] = field(default_factory=tuple)
