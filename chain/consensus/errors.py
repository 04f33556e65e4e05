"""Errors raised by the consensus package.

Every error is a value with fields: the message says what was expected and what came. The
hierarchy is self-contained (rooted at `ConsensusError`) so it can later be re-parented under the
chain-wide hierarchy without touching callers.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """Root of every error raised by `chain.consensus`."""


class InvalidValidatorSetError(ConsensusError):
    """A validator set was built from inconsistent members."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid validator set: {reason}")


class CodecError(ConsensusError):
    """Bytes could not be turned into a consensus value, or a value into bytes."""


class MalformedMessageError(CodecError):
    """Input bytes do not follow the canonical encoding."""

    def __init__(self, expected: str, got: str, offset: int) -> None:
        self.expected = expected
        self.got = got
        self.offset = offset
        super().__init__(f"malformed encoding at byte {offset}: expected {expected}, got {got}")


class MessageTooLargeError(CodecError):
    """Input (or a field inside it) exceeds a named size limit."""

    def __init__(self, what: str, limit: int, size: int) -> None:
        self.what = what
        self.limit = limit
        self.size = size
        super().__init__(f"{what} is {size}, limit is {limit}")


class CertificateError(ConsensusError):
    """A commit certificate does not prove that a quorum committed the block."""


class InsufficientSealsError(CertificateError):
    """Fewer distinct valid seals than the quorum."""

    def __init__(self, quorum: int, valid_seals: int) -> None:
        self.quorum = quorum
        self.valid_seals = valid_seals
        super().__init__(f"certificate needs {quorum} distinct valid seals, has {valid_seals}")


class DuplicateSealError(CertificateError):
    """The same validator appears twice among the seals."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        super().__init__(f"certificate carries two seals from {node_id!r}")


class UnknownSealerError(CertificateError):
    """A seal comes from a node that is not in the validator set."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        super().__init__(f"seal from {node_id!r}, which is not a validator")


class InvalidSealError(CertificateError):
    """A seal's signature does not verify over (chain id, height, block hash)."""

    def __init__(self, node_id: str, height: int) -> None:
        self.node_id = node_id
        self.height = height
        super().__init__(f"seal from {node_id!r} does not verify for height {height}")


class InvalidFieldError(CodecError):
    """A value cannot be encoded because a field is out of range or has the wrong size."""

    def __init__(self, field: str, expected: str, got: str) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"field {field}: expected {expected}, got {got}")
