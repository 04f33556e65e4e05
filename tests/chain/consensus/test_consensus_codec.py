"""Codec: deterministic round trips, and specific errors for malformed input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.consensus.codec import (
    SIZE_BYTES_MAX_BLOCK,
    SIZE_BYTES_MAX_MESSAGE,
    decode_message,
    encode_message,
    encode_signing_payload,
)
from chain.consensus.errors import (
    CodecError,
    InvalidFieldError,
    MalformedMessageError,
    MessageTooLargeError,
)
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange
from chain.consensus.persistence import (
    PersistedState,
    VoteKind,
    VoteRecord,
    decode_persisted_state,
    encode_persisted_state,
)
from chain.consensus.signing import Signer, verify_message
from chain.consensus.validators import ValidatorSet

HASH_A = bytes(range(32))
HASH_B = bytes(range(1, 33))


def sample_messages(signers: dict[str, Signer]) -> list[Message]:
    shanghai = signers["shanghai-1"]
    prepares = tuple(
        signers[n].sign(Prepare(3, 1, HASH_A, n)) for n in ("shanghai-1", "nanjing-1", "hefei-1")
    )
    assert all(isinstance(p, Prepare) for p in prepares)
    round_change = shanghai.sign(
        RoundChange(3, 2, 1, HASH_A, "", prepares, b"block-bytes")  # type: ignore[arg-type]
    )
    empty_round_change = signers["nanjing-1"].sign(RoundChange(3, 2, None, b"", ""))
    assert isinstance(round_change, RoundChange)
    assert isinstance(empty_round_change, RoundChange)
    return [
        prepares[0],
        shanghai.sign(Commit(3, 1, HASH_A, shanghai.seal(3, HASH_A), "")),
        round_change,
        empty_round_change,
        shanghai.sign(Proposal(3, 0, HASH_B, "", b"some block")),
        shanghai.sign(Proposal(3, 2, HASH_A, "", b"x", (round_change, empty_round_change))),
    ]


def test_round_trip_every_kind(signers4: dict[str, Signer]) -> None:
    for message in sample_messages(signers4):
        data = encode_message(message)
        assert decode_message(data) == message
        assert encode_message(decode_message(data)) == data


def test_decoded_messages_still_verify(
    validators4: tuple[ValidatorSet, dict[str, bytes]], signers4: dict[str, Signer]
) -> None:
    validator_set, _ = validators4
    for message in sample_messages(signers4):
        assert verify_message(decode_message(encode_message(message)), validator_set)


def test_signature_covers_chain_id(signers4: dict[str, Signer]) -> None:
    message = sample_messages(signers4)[0]
    assert encode_signing_payload(message, "chain-a") != encode_signing_payload(message, "chain-b")


def test_truncated_input_is_malformed(signers4: dict[str, Signer]) -> None:
    for message in sample_messages(signers4):
        data = encode_message(message)
        for cut in (0, 1, 2, len(data) // 2, len(data) - 1):
            with pytest.raises(MalformedMessageError):
                decode_message(data[:cut])


def test_trailing_bytes_are_malformed(signers4: dict[str, Signer]) -> None:
    data = encode_message(sample_messages(signers4)[0])
    with pytest.raises(MalformedMessageError) as caught:
        decode_message(data + b"\x00")
    assert caught.value.expected == "end of input"


def test_unknown_tag_and_version(signers4: dict[str, Signer]) -> None:
    data = encode_message(sample_messages(signers4)[0])
    with pytest.raises(MalformedMessageError):
        decode_message(bytes([data[0], 9]) + data[2:])
    with pytest.raises(MalformedMessageError):
        decode_message(bytes([7]) + data[1:])


def test_bad_prepared_flag(signers4: dict[str, Signer]) -> None:
    message = sample_messages(signers4)[3]
    data = bytearray(encode_message(message))
    flag_offset = 2 + 8 + 4
    assert data[flag_offset] == 0
    data[flag_offset] = 2
    with pytest.raises(MalformedMessageError):
        decode_message(bytes(data))


def test_invalid_utf8_sender(signers4: dict[str, Signer]) -> None:
    data = bytearray(encode_message(sample_messages(signers4)[0]))
    sender_offset = 2 + 8 + 4 + 32 + 2
    data[sender_offset] = 0xFF
    with pytest.raises(MalformedMessageError):
        decode_message(bytes(data))


def test_oversized_input() -> None:
    with pytest.raises(MessageTooLargeError):
        decode_message(b"\x01" * (SIZE_BYTES_MAX_MESSAGE + 1))


def test_oversized_block_refused_on_encode() -> None:
    message = Proposal(1, 0, HASH_A, "shanghai-1", b"x" * (SIZE_BYTES_MAX_BLOCK + 1), (), b"s" * 64)
    with pytest.raises(MessageTooLargeError):
        encode_message(message)


def test_wrong_field_sizes_refused_on_encode() -> None:
    with pytest.raises(InvalidFieldError):
        encode_message(Prepare(1, 0, b"short", "shanghai-1", b"s" * 64))
    with pytest.raises(InvalidFieldError):
        encode_message(Prepare(1, 0, HASH_A, "shanghai-1", b""))
    with pytest.raises(InvalidFieldError):
        encode_message(Prepare(-1, 0, HASH_A, "shanghai-1", b"s" * 64))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_message(data)


@settings(max_examples=100, deadline=None)
@given(
    height=st.integers(0, 2**64 - 1),
    round_number=st.integers(0, 2**32 - 1),
    block_hash=st.binary(min_size=32, max_size=32),
    sender=st.text(min_size=1, max_size=20),
    signature=st.binary(min_size=64, max_size=64),
)
def test_prepare_round_trip_property(
    height: int, round_number: int, block_hash: bytes, sender: str, signature: bytes
) -> None:
    message = Prepare(height, round_number, block_hash, sender, signature)
    assert decode_message(encode_message(message)) == message


def test_persisted_state_round_trip(signers4: dict[str, Signer]) -> None:
    prepares = tuple(
        m
        for m in sample_messages(signers4)[2].prepared_certificate  # type: ignore[union-attr]
    )
    record = PersistedState(
        height=3,
        round=2,
        prepared_round=1,
        prepared_block_hash=HASH_A,
        prepared_block=b"block-bytes",
        prepared_certificate=prepares,
        votes=(VoteRecord(1, VoteKind.PREPARE, HASH_A), VoteRecord(1, VoteKind.COMMIT, HASH_A)),
    )
    assert decode_persisted_state(encode_persisted_state(record)) == record
    empty = PersistedState(1, 0, None, b"", b"", (), ())
    assert decode_persisted_state(encode_persisted_state(empty)) == empty
    with pytest.raises(MalformedMessageError):
        decode_persisted_state(encode_persisted_state(record)[:-3])
