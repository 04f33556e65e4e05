"""Vote tallies keep the first vote of each sender per round and hand back a second one."""

from __future__ import annotations

from chain.consensus.messages import Prepare
from chain.consensus.quorum import Tally

HASH_A = bytes([0xA]) * 32
HASH_B = bytes([0xB]) * 32


def test_a_tally_keeps_the_first_vote_and_returns_the_earlier_one_on_a_second() -> None:
    tally: Tally[Prepare] = Tally()
    first = Prepare(1, 0, HASH_A, "shanghai-1")
    assert tally.add(first) is None
    assert tally.add(Prepare(1, 0, HASH_A, "nanjing-1")) is None
    assert tally.add(Prepare(1, 0, HASH_B, "shanghai-1")) is first
    assert tally.add(Prepare(1, 2, HASH_B, "shanghai-1")) is None
    assert [p.sender for p in tally.at(0).values() if p.block_hash == HASH_A] == [
        "shanghai-1", "nanjing-1"]
    assert tally.rounds() == [0, 2] and tally.at(5) == {}
    tally.discard(0, "nanjing-1")
    assert list(tally.at(0)) == ["shanghai-1"]
    replacement = Prepare(1, 0, HASH_B, "shanghai-1")
    tally.put(replacement)
    assert tally.at(0)["shanghai-1"] is replacement
