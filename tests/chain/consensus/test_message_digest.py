"""The verification cache's key (chain/consensus/signing.py `message_digest`) covers every signed
field and the signature: a message changed anywhere is verified afresh, never taken from the
cache of the one it was copied from."""

from __future__ import annotations

import dataclasses

from chain.consensus.messages import Commit, Prepare, Proposal, RoundChange
from chain.consensus.signing import message_digest

HASH = bytes(range(32))


def test_every_signed_field_and_the_signature_change_the_key() -> None:
    prepare = Prepare(height=7, round=1, block_hash=HASH, sender="shanghai-1", signature=b"s" * 64)
    variants = [
        dataclasses.replace(prepare, height=8), dataclasses.replace(prepare, round=2),
        dataclasses.replace(prepare, block_hash=HASH[::-1]),
        dataclasses.replace(prepare, sender="nanjing-1"),
        dataclasses.replace(prepare, signature=b"t" * 64),
    ]
    keys = {message_digest(message, "yrd") for message in [prepare, *variants]}
    assert len(keys) == 6
    commit = Commit(height=7, round=1, block_hash=HASH, seal=b"a" * 64, sender="shanghai-1",
                    signature=b"s" * 64)
    assert message_digest(commit, "yrd") != message_digest(
        dataclasses.replace(commit, seal=b"b" * 64), "yrd")
    proposal = Proposal(height=7, round=1, block_hash=HASH, sender="shanghai-1",
                        signature=b"s" * 64)
    assert len({message_digest(m, "yrd") for m in (prepare, commit, proposal)}) == 3


def test_field_boundaries_cannot_be_shifted_into_each_other() -> None:
    one = Prepare(height=1, round=12, block_hash=HASH, sender="ab", signature=b"c" * 64)
    other = Prepare(height=11, round=2, block_hash=HASH, sender="a", signature=b"bc" + b"c" * 63)
    assert message_digest(one, "yrd") != message_digest(other, "yrd")


def test_a_round_change_is_keyed_by_its_whole_signing_payload() -> None:
    change = RoundChange(height=7, round=2, prepared_round=1, prepared_block_hash=HASH,
                         sender="shanghai-1", signature=b"s" * 64)
    claimed = dataclasses.replace(change, prepared_round=None, prepared_block_hash=b"")
    assert message_digest(change, "yrd") != message_digest(claimed, "yrd")
