"""Events fed into the consensus state machine.

Time enters only as values: `Start` and `Tick` carry the runtime's clock in milliseconds, and
every other event may carry `now_ms` too (when None the state machine keeps the last time it
saw). The runtime delivers events one at a time; the state machine never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.consensus.messages import Message


@dataclass(frozen=True, slots=True)
class Start:
    """Begin consensus at `height`, on top of the stored block `last_block_hash`.

    last_round: the round in that block's commit certificate (None at genesis or unknown); with
    it the node can hand its COMMIT for the block to a validator still deciding it (R13).
    """

    now_ms: int
    height: int
    last_block_hash: bytes
    last_round: int | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock reached `now_ms` (answers a ScheduleTimeout, or any periodic wake-up)."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A peer's message arrived.

    `signature_checked` may be set by a runtime that already ran `verify_message` (for example in
    a thread pool); the state machine then skips the outer signature check.
    """

    message: Message
    now_ms: int | None = None
    signature_checked: bool = False


@dataclass(frozen=True, slots=True)
class BlockBuilt:
    """The application's answer to BuildBlock: a candidate block and its 32-byte hash."""

    height: int
    round: int
    block_hash: bytes
    block: bytes
    now_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """The application's answer to ExecuteBlock: whether the block is valid at this height.

    Valid means: the bytes hash to `block_hash`, the parent and height match, and every
    transaction checks out.
    """

    height: int
    block_hash: bytes
    valid: bool
    now_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionsPending:
    """The application's mempool now holds `count` transactions.

    The application reports it whenever the count changes and after every CommitBlock or
    BlockSynced (entering a new height resets the count to zero until the next report).
    """

    count: int
    now_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BlockSynced:
    """The application appended a block fetched from peers (certificate checked).

    round: the round in the block's commit certificate (see Start.last_round).
    """

    height: int
    block_hash: bytes
    now_ms: int | None = None
    round: int | None = None


Event = (
    Start | Tick | MessageReceived | BlockBuilt | BlockExecuted | TransactionsPending | BlockSynced
)
"""Any event the state machine accepts."""
