"""Byzantine behaviours: pure rewrites of a validator's honest actions (simulator, tests).

A faulty validator runs the honest state machine and rewrites what it sends. Each behaviour is a
pure function from the honest actions to the actions actually performed; `Behaviour` is the
shape the harness (and the simulator) plug in per node. Block contents are opaque to consensus,
so behaviours that invent blocks take the application's `hash_block` function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import StrEnum

from chain.consensus.actions import Action, Broadcast, SendTo
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange
from chain.consensus.signing import Signer
from chain.consensus.validators import ValidatorSet

Behaviour = Callable[[list[Action]], list[Action]]
"""Rewrites one batch of honest actions into the faulty node's actions."""

HashBlock = Callable[[bytes], bytes]
"""The application's block hash function (32-byte output)."""

SUFFIX_EQUIVOCATION = b"|equivocation"
"""Appended to a block to make the conflicting twin an equivocating proposer sends."""

PREFIX_INVALID = b"invalid|"
"""Blocks starting with this prefix are rejected by the harness application."""


class ByzantineKind(StrEnum):
    """The faults the harness and simulator can inject."""

    EQUIVOCATE = "equivocate"
    INVALID_VOTES = "invalid_votes"
    FORGE = "forge"
    SILENT = "silent"


def silent(actions: list[Action]) -> list[Action]:
    """Send nothing: drop every Broadcast and SendTo."""
    return [a for a in actions if not isinstance(a, Broadcast | SendTo)]


def forge_signatures(actions: list[Action], forger: Signer) -> list[Action]:
    """Re-sign every outgoing message with a key the validator set does not know."""
    result: list[Action] = []
    for action in actions:
        if isinstance(action, Broadcast):
            result.append(Broadcast(forger.sign(action.message)))
        elif isinstance(action, SendTo):
            result.append(SendTo(action.node_id, forger.sign(action.message)))
        else:
            result.append(action)
    return result


def equivocate(
    actions: list[Action],
    signer: Signer,
    validator_set: ValidatorSet,
    hash_block: HashBlock,
    twin_blocks: dict[bytes, bytes],
    overlap: int = 1,
) -> list[Action]:
    """Send one block to the first half of the validators and a conflicting twin to the rest.

    Votes follow the split: PREPARE/COMMIT for a proposed block go to the first half, the same
    votes for its twin go to the second half. `overlap` validators at the end of the first half
    receive both versions (so they can detect the equivocation). `twin_blocks` maps each original
    block hash to its twin's hash; the caller keeps it between batches.
    """
    others = [v for v in validator_set.node_ids() if v != signer.node_id]
    half = len(others) // 2
    first, second = others[:half], others[half:]
    both = first[max(0, half - overlap) :]
    result: list[Action] = []
    for action in actions:
        if not isinstance(action, Broadcast):
            result.append(action)
            continue
        message = action.message
        twin = _twin_for(message, signer, hash_block, twin_blocks)
        if twin is None:
            result.append(action)
            continue
        result.extend(SendTo(node_id, message) for node_id in first)
        result.extend(SendTo(node_id, twin) for node_id in (*both, *second))
    return result


def _twin_for(
    message: Message, signer: Signer, hash_block: HashBlock, twin_blocks: dict[bytes, bytes]
) -> Message | None:
    """The conflicting version of a value-carrying message, signed by the faulty node."""
    if isinstance(message, Proposal):
        block = message.block + SUFFIX_EQUIVOCATION
        twin_hash = hash_block(block)
        twin_blocks[message.block_hash] = twin_hash
        return signer.sign(dataclasses.replace(message, block=block, block_hash=twin_hash))
    if isinstance(message, Prepare | Commit):
        twin_of = twin_blocks.get(message.block_hash)
        if twin_of is None:
            return None
        if isinstance(message, Commit):
            seal = signer.seal(message.height, twin_of)
            return signer.sign(dataclasses.replace(message, block_hash=twin_of, seal=seal))
        return signer.sign(dataclasses.replace(message, block_hash=twin_of))
    return None


def vote_for_invalid_blocks(
    actions: list[Action], signer: Signer, hash_block: HashBlock
) -> list[Action]:
    """Propose invalid blocks and vote PREPARE/COMMIT only for invalid blocks.

    A proposal's block is replaced by an invalid one (its hash matches, its content does not
    pass the application's checks); every PREPARE/COMMIT is redirected to an invalid block of the
    same height and round. ROUND-CHANGE messages pass unchanged.
    """
    result: list[Action] = []
    for action in actions:
        if not isinstance(action, Broadcast | SendTo):
            result.append(action)
            continue
        message = _invalid_version(action.message, signer, hash_block)
        if isinstance(action, Broadcast):
            result.append(Broadcast(message))
        else:
            result.append(SendTo(action.node_id, message))
    return result


def invalid_block(height: int, round_number: int, node_id: str) -> bytes:
    """The invalid block a faulty node proposes or votes for at (height, round)."""
    return PREFIX_INVALID + f"h={height}|r={round_number}|by={node_id}".encode()


def _invalid_version(message: Message, signer: Signer, hash_block: HashBlock) -> Message:
    if isinstance(message, RoundChange):
        return message
    block = invalid_block(message.height, message.round, signer.node_id)
    block_hash = hash_block(block)
    if isinstance(message, Proposal):
        if message.round > 0:
            return message
        return signer.sign(dataclasses.replace(message, block=block, block_hash=block_hash))
    if isinstance(message, Commit):
        seal = signer.seal(message.height, block_hash)
        return signer.sign(dataclasses.replace(message, block_hash=block_hash, seal=seal))
    return signer.sign(dataclasses.replace(message, block_hash=block_hash))


def make_behaviour(
    kind: ByzantineKind,
    signer: Signer,
    validator_set: ValidatorSet,
    hash_block: HashBlock,
    forger: Signer | None = None,
) -> Behaviour:
    """A Behaviour of the given kind for the node that owns `signer`."""
    if kind is ByzantineKind.SILENT:
        return silent
    if kind is ByzantineKind.FORGE:
        if forger is None:
            raise ValueError("a forging behaviour needs a forger key")
        wrong = forger
        return lambda actions: forge_signatures(actions, wrong)
    if kind is ByzantineKind.INVALID_VOTES:
        return lambda actions: vote_for_invalid_blocks(actions, signer, hash_block)
    twins: dict[bytes, bytes] = {}
    return lambda actions: equivocate(actions, signer, validator_set, hash_block, twins)
