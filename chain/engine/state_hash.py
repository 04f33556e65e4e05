"""What the state root commits to under the native engine.

    state root = keccak(DOMAIN || change chain || table set hash || EVM account root)

- change chain: keccak(parent's change chain || keccak(the block's sorted change set)), the
  incremental hash of FISCO BCOS's Storage State: equal roots mean every node applied the same
  row changes in every block since genesis.
- table set hash: the sum, modulo 2^256, of keccak(key, row) over every stored row (an additive
  multiset hash, LtHash-style). A block updates it by subtracting its changed rows' old hashes and
  adding the new ones, so it costs per change, not per row; and because it names the whole table
  state, a node recomputing it from its store when it opens detects a row changed behind the
  ledger's back.
- EVM account root: the trie root of the accounts py-evm keeps (members' contracts); the empty
  trie's root while there are none.

The 96-byte preimage (`StateCommitment.encode`) is stored under the root in the state store, so
a node reads its parent's three parts back from the parent's root alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chain import rlp_codec
from chain.crypto import keccak
from chain.errors import MalformedInput

DOMAIN = b"yrdchain-state-1"
SET_HASH_MODULUS = 1 << 256
EMPTY_CHAIN = b"\0" * 32
COMMITMENT_BYTES = 96


def row_hash(key: bytes, row: bytes) -> int:
    """One row's term of the set hash (the key's length first, so no two rows collide)."""
    return int.from_bytes(keccak(len(key).to_bytes(2, "big") + key + row), "big")


def table_set_hash(rows: Iterable[tuple[bytes, bytes]]) -> int:
    """The set hash of a whole table state, from scratch."""
    return sum(row_hash(key, row) for key, row in rows) % SET_HASH_MODULUS


def update_set_hash(set_hash: int, changes: Mapping[bytes, bytes | None],
                    previous: Mapping[bytes, bytes | None]) -> int:
    """The set hash after `changes`, given each changed key's row before the block."""
    for key, row in changes.items():
        old = previous.get(key)
        if old is not None:
            set_hash -= row_hash(key, old)
        if row is not None:
            set_hash += row_hash(key, row)
    return set_hash % SET_HASH_MODULUS


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
    set_hash: int
    evm_root: bytes

    @property
    def root(self) -> bytes:
        """The state root in block headers."""
        return keccak(DOMAIN + self.encode())

    def encode(self) -> bytes:
        """The 96-byte preimage."""
        return self.change_chain + self.set_hash.to_bytes(32, "big") + self.evm_root

    @classmethod
    def decode(cls, data: bytes) -> StateCommitment:
        """The parts from a stored preimage."""
        if len(data) != COMMITMENT_BYTES:
            raise MalformedInput(f"a state commitment is {COMMITMENT_BYTES} bytes, got "
                                 f"{len(data)}: is this store of the evm engine?")
        return cls(data[:32], int.from_bytes(data[32:64], "big"), data[64:])

    def after(self, changes: Mapping[bytes, bytes | None],
              previous: Mapping[bytes, bytes | None], evm_root: bytes) -> StateCommitment:
        """The commitment after a block's changes."""
        return StateCommitment(
            keccak(self.change_chain + change_set_hash(changes)),
            update_set_hash(self.set_hash, changes, previous),
            evm_root,
        )
