"""The validator set: who may vote, how many faults it tolerates, and who proposes when.

For n validators the set tolerates f = (n - 1) // 3 byzantine members and needs a quorum of
n - f matching votes. Two quorums overlap in at least n - 2f >= f + 1 members, so every pair of
quorums shares an honest validator; n - f honest validators alone form a quorum, so the honest
ones can always make progress once messages arrive (see docs/spec/consensus.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nacl.signing import VerifyKey

from chain.consensus.errors import InvalidValidatorSetError

COUNT_MAX_VALIDATORS = 256
"""Largest validator set accepted: bounds certificate and justification sizes."""

SIZE_BYTES_MAX_NODE_ID = 64
"""Longest node id (UTF-8 bytes): node ids travel in every message."""

SIZE_BYTES_MAX_CHAIN_ID = 64
"""Longest chain id (UTF-8 bytes): it is mixed into every signed payload."""

SIZE_BYTES_PUBLIC_KEY = 32
"""An Ed25519 public key."""


@dataclass(frozen=True, slots=True)
class Validator:
    """One voting member: a city node and its Ed25519 consensus key."""

    node_id: str
    """Unique node name, e.g. "shanghai-1"."""
    city: str
    """The city that runs the node, e.g. "Shanghai"."""
    public_key: bytes
    """32-byte Ed25519 public key that verifies the node's consensus messages."""


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The ordered validators of one chain; the order fixes proposer rotation."""

    validators: tuple[Validator, ...]
    """Members in rotation order."""
    chain_id: str
    """The chain these validators serve; mixed into every signature (domain separation)."""
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)
    _verify_keys: tuple[VerifyKey, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.validators:
            raise InvalidValidatorSetError("a validator set needs at least one validator")
        if len(self.validators) > COUNT_MAX_VALIDATORS:
            raise InvalidValidatorSetError(
                f"at most {COUNT_MAX_VALIDATORS} validators, got {len(self.validators)}"
            )
        if not self.chain_id or len(self.chain_id.encode()) > SIZE_BYTES_MAX_CHAIN_ID:
            raise InvalidValidatorSetError(
                f"chain id must be 1..{SIZE_BYTES_MAX_CHAIN_ID} bytes, got {self.chain_id!r}"
            )
        index: dict[str, int] = {}
        keys: set[bytes] = set()
        for position, validator in enumerate(self.validators):
            node_id_size = len(validator.node_id.encode())
            if not 0 < node_id_size <= SIZE_BYTES_MAX_NODE_ID:
                raise InvalidValidatorSetError(
                    f"node id must be 1..{SIZE_BYTES_MAX_NODE_ID} bytes, got {validator.node_id!r}"
                )
            if validator.node_id in index:
                raise InvalidValidatorSetError(f"node id {validator.node_id!r} appears twice")
            if len(validator.public_key) != SIZE_BYTES_PUBLIC_KEY:
                raise InvalidValidatorSetError(
                    f"{validator.node_id!r}: public key must be {SIZE_BYTES_PUBLIC_KEY} bytes, "
                    f"got {len(validator.public_key)}"
                )
            if validator.public_key in keys:
                raise InvalidValidatorSetError(
                    f"{validator.node_id!r}: public key already used by another validator"
                )
            index[validator.node_id] = position
            keys.add(validator.public_key)
        object.__setattr__(self, "_index", index)
        object.__setattr__(
            self, "_verify_keys", tuple(VerifyKey(v.public_key) for v in self.validators)
        )

    @property
    def size(self) -> int:
        """Number of validators, n."""
        return len(self.validators)

    @property
    def f(self) -> int:
        """Byzantine validators tolerated: (n - 1) // 3."""
        return (len(self.validators) - 1) // 3

    @property
    def quorum(self) -> int:
        """Matching votes needed: n - f (equals ceil((2n + 1) / 3); 2f + 1 when n = 3f + 1)."""
        return len(self.validators) - self.f

    @property
    def weak_quorum(self) -> int:
        """f + 1: enough messages to include at least one honest sender."""
        return self.f + 1

    def proposer(self, height: int, round_number: int) -> Validator:
        """The validator that proposes at (height, round): rotation by height + round."""
        return self.validators[(height + round_number) % len(self.validators)]

    def get(self, node_id: str) -> Validator | None:
        """The validator named node_id, or None when it is not a member."""
        position = self._index.get(node_id)
        return None if position is None else self.validators[position]

    def position(self, node_id: str) -> int | None:
        """The rotation index of node_id, or None when it is not a member."""
        return self._index.get(node_id)

    def verify_key(self, node_id: str) -> VerifyKey | None:
        """The PyNaCl verify key of node_id (built once per set), or None."""
        position = self._index.get(node_id)
        return None if position is None else self._verify_keys[position]

    def node_ids(self) -> tuple[str, ...]:
        """Node ids in rotation order."""
        return tuple(v.node_id for v in self.validators)
