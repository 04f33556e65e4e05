"""Consensus messages: PROPOSAL, PREPARE, COMMIT and ROUND-CHANGE.

Every message names its sender and carries the sender's Ed25519 signature over the message's
signed fields (see `chain.consensus.codec.encode_signing_payload`). Some fields ride along
unsigned because they are checked on their own: a proposal's block bytes are bound by
`block_hash` (the application checks the hash), a proposal's justification is a set of signed
ROUND-CHANGE messages, and a ROUND-CHANGE's prepared certificate is a set of signed PREPAREs.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZE_BYTES_BLOCK_HASH = 32
"""Block hashes are 32 bytes; consensus treats them as opaque."""

SIZE_BYTES_SIGNATURE = 64
"""Ed25519 signatures are 64 bytes."""


@dataclass(frozen=True, slots=True)
class Prepare:
    """A validator's vote that the proposal (height, round, block_hash) is valid."""

    height: int
    round: int
    block_hash: bytes
    sender: str
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class Commit:
    """A validator's vote to commit; `seal` signs (chain id, height, block_hash)."""

    height: int
    round: int
    block_hash: bytes
    seal: bytes
    sender: str
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class RoundChange:
    """A validator asks to move to `round`, reporting the value it prepared, if any.

    `prepared_round` is None when the sender prepared nothing at this height; otherwise
    `prepared_certificate` holds a quorum of PREPAREs for (height, prepared_round,
    prepared_block_hash). `prepared_block` carries the block bytes so the next proposer can
    re-propose the value; it is unsigned and may be empty inside a proposal's justification.
    """

    height: int
    round: int
    prepared_round: int | None
    prepared_block_hash: bytes
    sender: str
    prepared_certificate: tuple[Prepare, ...] = ()
    prepared_block: bytes = b""
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposer's block for (height, round).

    For round > 0 `justification` holds a quorum of ROUND-CHANGE messages for this round; the
    proposed value must be the prepared value of the highest prepared round among them, if any.
    """

    height: int
    round: int
    block_hash: bytes
    sender: str
    block: bytes = b""
    justification: tuple[RoundChange, ...] = ()
    signature: bytes = b""


Message = Proposal | Prepare | Commit | RoundChange
"""Any consensus message."""


def message_kind(message: Message) -> str:
    """Short name of the message type, used in reports and transcripts."""
    return type(message).__name__
