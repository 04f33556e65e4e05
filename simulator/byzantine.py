"""Byzantine validators in the simulator: the core's behaviours plus a colluding equivocation.

`silent`, `forge` and `invalid_votes` are the pure behaviours of `simulator.byzantine_actions`,
given real keys and the ledger's hash. `equivocate` is a cabal: every validator marked with it
joins one group that shares its twins. When a member proposes at round 0 it builds a second,
fully valid block on the same parent (same transactions, timestamp one millisecond later) and
sends the first to one half of the honest validators and the twin to the other half; every
member's PREPARE and COMMIT for the block go to the first half and a re-signed vote for the twin
to the second (one honest node gets both and reports the equivocation). With at most f members
neither half can reach a quorum on its own and the protocol stays safe; with f + 1 members on
n = 3f + 1 validators each half plus the cabal is a quorum, two honest nodes commit different
blocks at one height, and the checker must trip.
`flood` keeps the node honest and has it gossip transactions with made-up signatures, each of
which every peer must try to recover before it can refuse it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable

from chain import rlp_codec
from chain.blocks import decode_block, encode_block
from chain.consensus.actions import Action, Broadcast, SendTo
from chain.consensus.messages import Commit, Message, Prepare, Proposal
from chain.consensus.signing import Signer
from chain.consensus.validators import ValidatorSet
from chain.crypto import keccak
from chain.ledger import Ledger
from simulator.byzantine_actions import forge_signatures, silent, vote_for_invalid_blocks
from simulator.host import Behaviour

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GAS_FLOOD_TRANSACTION = 100_000
SIZE_BYTES_FLOOD_DATA = 68
"""Calldata of a flood transaction: about the size of a real publish call."""


def block_hash_of(block: bytes) -> bytes:
    """The ledger's block hash for consensus bytes (the header hash), or keccak of junk."""
    try:
        return decode_block(block).hash
    except Exception:  # junk bytes from invalid_votes have no header
        return keccak(block)


class Cabal:
    """Colluding equivocators: who they are and the twin of each block they proposed."""

    def __init__(self, validator_set: ValidatorSet) -> None:
        self.validator_set = validator_set
        self.members: list[str] = []
        self.twins: dict[bytes, bytes] = {}
        self.twin_blocks: dict[bytes, bytes] = {}

    def join(self, node_id: str) -> None:
        """Add a member."""
        if node_id not in self.members:
            self.members.append(node_id)

    def halves(self) -> tuple[list[str], list[str]]:
        """Who gets the original and who the twin.

        The original goes to the first half of the honest validators and to the members; the
        twin to the second half and to the last node of the first half, which so sees both
        and can report the equivocation.
        """
        honest = [n for n in self.validator_set.node_ids() if n not in self.members]
        half = len(honest) // 2
        return honest[:half] + self.members, honest[max(0, half - 1):]

    def behaviour(self, signer: Signer, ledger_of: Callable[[], Ledger | None]) -> Behaviour:
        """The behaviour of one member."""

        def act(actions: list[Action]) -> list[Action]:
            result: list[Action] = []
            first, second = self.halves()
            for action in actions:
                if not isinstance(action, Broadcast):
                    result.append(action)
                    continue
                twin = self._twin(action.message, signer, ledger_of())
                if twin is None:
                    result.append(action)
                    continue
                result.extend(SendTo(n, action.message) for n in first if n != signer.node_id)
                result.extend(SendTo(n, twin) for n in second if n != signer.node_id)
            return result

        return act

    def _twin(self, message: Message, signer: Signer, ledger: Ledger | None) -> Message | None:
        if isinstance(message, Proposal):
            if message.round != 0 or ledger is None:
                return None
            block = decode_block(message.block)
            twin_block = ledger.build_block(block.header.timestamp_ms + 1, signer.node_id)
            if twin_block.hash == block.hash or twin_block.height != block.height:
                return None
            raw = encode_block(twin_block)
            self.twins[message.block_hash] = twin_block.hash
            self.twin_blocks[twin_block.hash] = raw
            return signer.sign(dataclasses.replace(message, block=raw,
                                                   block_hash=twin_block.hash))
        if isinstance(message, Prepare | Commit):
            twin_hash = self.twins.get(message.block_hash)
            if twin_hash is None:
                return None
            if isinstance(message, Commit):
                seal = signer.seal(message.height, twin_hash)
                return signer.sign(dataclasses.replace(message, block_hash=twin_hash, seal=seal))
            return signer.sign(dataclasses.replace(message, block_hash=twin_hash))
        return None


def simple_behaviour(kind: str, signer: Signer, chain_id: str) -> Behaviour:
    """`silent`, `forge` or `invalid_votes` for the node that owns `signer`."""
    if kind == "silent":
        return silent
    if kind == "forge":
        forger = Signer(signer.node_id,
                        hashlib.sha256(b"forged/" + signer.node_id.encode()).digest(),
                        chain_id)
        return lambda actions: forge_signatures(actions, forger)
    if kind == "invalid_votes":
        return lambda actions: vote_for_invalid_blocks(actions, signer, block_hash_of)
    raise ValueError(f"no simple behaviour {kind!r}")


def forged_transaction(rng: random.Random, chain_id: int, to: bytes, nonce: int) -> bytes:
    """A legacy transaction whose signature is made up: recovery fails or names a stranger."""
    data = bytes(rng.getrandbits(8) for _ in range(SIZE_BYTES_FLOOD_DATA))
    r = rng.randrange(1, SECP256K1_ORDER)
    s = rng.randrange(1, SECP256K1_ORDER // 2)
    return rlp_codec.encode([
        rlp_codec.encode_int(nonce), rlp_codec.encode_int(0),
        rlp_codec.encode_int(GAS_FLOOD_TRANSACTION), to, b"", data,
        rlp_codec.encode_int(chain_id * 2 + 35 + rng.getrandbits(1)),
        rlp_codec.encode_int(r), rlp_codec.encode_int(s),
    ])
