"""Block bytes: encoding round trip, and decoding hostile input from peers."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain import rlp_codec
from chain.blocks import Block, decode_block, encode_block
from chain.errors import MalformedInput, YrdError
from chain.genesis import Genesis
from tests.chain.ledger_helpers import fresh_ledger, next_block, publication


def nested_lists(depth: int) -> bytes:
    """`depth` RLP lists, each holding the next, around an empty list (built without copying)."""
    prefixes = []
    length = 1  # the innermost b"\xc0"
    for _ in range(depth):
        prefix = rlp_codec.encode_length(length, 0xC0)
        prefixes.append(prefix)
        length += len(prefix)
    return b"".join(reversed(prefixes)) + b"\xc0"


def test_committed_blocks_round_trip(genesis: Genesis) -> None:
    ledger = fresh_ledger(genesis)
    key = genesis.preset.key("bureau:hangzhou")
    ledger.admit(publication(genesis, key, 0).raw)
    block = next_block(ledger, "hangzhou-1").block
    decoded = decode_block(encode_block(block))
    assert decoded == block and decoded.hash == block.hash
    certified = block.with_certificate(b"certificate")
    assert decode_block(encode_block(certified)).certificate == b"certificate"
    assert certified.hash == block.hash
    assert ledger.block(1) == block


def test_header_changes_change_the_hash(genesis: Genesis) -> None:
    block = genesis.block
    for change in ({"height": 1}, {"proposer": "x"}, {"gas_used": 1},
                   {"state_root": b"\1" * 32}, {"timestamp_ms": 1}):
        assert Block(replace(block.header, **change), ()).hash != block.hash


def test_a_block_nested_past_any_recursion_limit_is_malformed() -> None:
    """A peer's block (up to 16 MiB) can nest lists deeper than py-evm's recursion limit."""
    depth = sys.getrecursionlimit() + 1_000
    raw = nested_lists(depth)
    outcome: BaseException | None = None
    try:
        decode_block(raw)
    except (MalformedInput, RecursionError) as error:  # not pytest.raises: 10^5 frames
        outcome = error
    assert not isinstance(outcome, RecursionError), (
        f"decode_block hit the recursion limit on {depth} nested lists")
    assert isinstance(outcome, MalformedInput)


@given(raw=st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_random_bytes_are_refused_as_yrd_errors(raw: bytes) -> None:
    with pytest.raises(YrdError):
        decode_block(raw)


def test_a_receipt_written_out_encodes_as_the_generic_encoder_does() -> None:
    import random

    from chain import rlp_codec
    from chain.codec import _receipt_items, encode_receipt, encode_receipts, encode_receipts_of
    from chain.execution import Log, Receipt

    draw = random.Random(5)
    receipts = []
    for _ in range(300):
        logs = tuple(Log(draw.randbytes(20),
                         tuple(draw.randbytes(32) for _ in range(draw.randrange(4))),
                         draw.randbytes(draw.choice([0, 1, 55, 56, 300])))
                     for _ in range(draw.randrange(4)))
        receipt = Receipt(transaction_hash=draw.randbytes(32), status=draw.randrange(2),
                          gas_used=draw.randrange(10**7),
                          cumulative_gas_used=draw.randrange(10**8), logs=logs,
                          revert_reason=draw.choice([None, "", "out of gas", "x" * 80]))
        assert encode_receipt(receipt) == rlp_codec.encode(_receipt_items(receipt))
        receipts.append(receipt)
    assert encode_receipts_of([encode_receipt(r) for r in receipts]) == encode_receipts(receipts)
    for item in (b"", b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, b"a" * 1000):
        assert rlp_codec.encode_bytes(item) == rlp_codec.encode(item)
