"""Validator keys for state-machine tests: n city nodes under a test chain id.

Unit tests of `ConsensusState` feed it events directly and need only a validator set and each
node's key seed; the network tests (harness.py) use a preset's own keys instead.
"""

from __future__ import annotations

import hashlib

from chain.consensus.validators import Validator, ValidatorSet
from chain.identity import derive_node_signing_key

CHAIN_ID_TEST = "yrd-harness"
"""Chain id of test validator sets."""

GENESIS_HASH = hashlib.sha256(b"yrdchain/harness/genesis").digest()
"""Parent of height 1 in state-machine tests."""

CITIES = (
    ("shanghai", "Shanghai"),
    ("nanjing", "Nanjing"),
    ("hangzhou", "Hangzhou"),
    ("hefei", "Hefei"),
    ("suzhou", "Suzhou"),
    ("changzhou", "Changzhou"),
    ("suqian", "Suqian"),
    ("taizhou", "Taizhou"),
)
"""The eight cities of the chain, in the order node ids are handed out."""


def node_names(count: int) -> tuple[tuple[str, str], ...]:
    """(node id, city) for `count` nodes: shanghai-1, nanjing-1, ... then shanghai-2, ..."""
    return tuple(
        (f"{CITIES[i % len(CITIES)][0]}-{i // len(CITIES) + 1}", CITIES[i % len(CITIES)][1])
        for i in range(count)
    )


def make_validators(
    count: int, chain_id: str = CHAIN_ID_TEST, key_label: bytes = b"harness/"
) -> tuple[ValidatorSet, dict[str, bytes]]:
    """A validator set of `count` city nodes and each node's private key seed."""
    validators: list[Validator] = []
    seeds: dict[str, bytes] = {}
    for node_id, city in node_names(count):
        private, public = derive_node_signing_key(key_label + node_id.encode())
        validators.append(Validator(node_id, city, public))
        seeds[node_id] = private
    return ValidatorSet(tuple(validators), chain_id), seeds
