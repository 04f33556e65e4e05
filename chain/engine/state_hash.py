"""What the state root commits to under the native engine.

    state root = keccak(DOMAIN || change chain || table set hash || EVM account root)

- change chain: keccak(parent's change chain || keccak(the block's sorted change set)), the
  incremental hash of FISCO BCOS's Storage State: equal roots mean every node applied the same
  row changes in every block since genesis.
- table set hash: LtHash of every stored row (`chain.engine.set_hash`: 1,024 lanes of 16 bits,
  the lane-wise sum of each row's SHAKE-256 vector). A block updates it by subtracting its
  changed rows' old vectors and adding the new ones, so it costs per change, not per row; and
  because it names the whole table state, a node recomputing it from its store when it opens
  detects a row changed behind the ledger's back.
- EVM account root: the trie root of the accounts py-evm keeps (members' contracts); the empty
  trie's root while there are none.

The preimage (`StateCommitment.encode`: 32 + 2,048 + 32 bytes) is stored under the root in the
state store, so a node reads its parent's three parts back from the parent's root alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chain import rlp_codec
from chain.crypto import keccak
from chain.engine import set_hash as lthash
from chain.errors import MalformedInput

DOMAIN = b"yrdchain-state-4"
EMPTY_CHAIN = b"\0" * 32
COMMITMENT_BYTES = 32 + lthash.VECTOR_BYTES + 32


def change_set_hash(changes: Mapping[bytes, bytes | None]) -> bytes:
    """keccak of the block's change set in key order; an absent row is an empty list.

    The preimage is the RLP list of `[key, [row]]` (or `[key, []]`), written here directly:
    a block of batch transactions changes tens of thousands of rows.
    """
    parts: list[bytes] = []
    for key in sorted(changes):
        row = changes[key]
        inner = _rlp_string(key) + (EMPTY_LIST if row is None
                                    else _rlp_list(_rlp_string(row)))
        parts.append(_rlp_list(inner))
    return keccak(_rlp_list(b"".join(parts)))


EMPTY_LIST = b"\xc0"


def _rlp_string(value: bytes) -> bytes:
    if len(value) == 1 and value[0] < 0x80:
        return value
    return rlp_codec.encode_length(len(value), 0x80) + value


def _rlp_list(payload: bytes) -> bytes:
    return rlp_codec.encode_length(len(payload), 0xC0) + payload


@dataclass(frozen=True, slots=True)
class StateCommitment:
    """The three parts of a native state root."""

    change_chain: bytes
    set_hash: bytes  # the LtHash vector, `lthash.VECTOR_BYTES`
    evm_root: bytes

    @property
    def root(self) -> bytes:
        """The state root in block headers."""
        return keccak(DOMAIN + self.encode())

    def encode(self) -> bytes:
        """The preimage: change chain, set hash vector, EVM account root."""
        return self.change_chain + self.set_hash + self.evm_root

    @classmethod
    def decode(cls, data: bytes) -> StateCommitment:
        """The parts from a stored preimage."""
        if len(data) != COMMITMENT_BYTES:
            raise MalformedInput(f"a state commitment is {COMMITMENT_BYTES} bytes, got "
                                 f"{len(data)}: is this store of the evm engine?")
        return cls(data[:32], data[32:-32], data[-32:])

    def after(self, changes: Mapping[bytes, bytes | None],
              previous: Mapping[bytes, bytes | None], evm_root: bytes) -> StateCommitment:
        """The commitment after a block's changes."""
        return StateCommitment(
            keccak(self.change_chain + change_set_hash(changes)),
            lthash.updated(self.set_hash, changes, previous),
            evm_root,
        )
