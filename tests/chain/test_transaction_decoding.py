"""Decoding signed transactions and recovering their senders, checked against eth_account."""

from __future__ import annotations

import contextlib
import sys

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain import rlp_codec
from chain.crypto import SECP256K1_ORDER, derive_private_key
from chain.errors import (
    BadSignature,
    MalformedInput,
    NotAMember,
    OversizedInput,
    UnsupportedTransaction,
    WrongChainId,
    YrdError,
)
from chain.genesis import Genesis
from chain.presets import Preset
from chain.transactions import (
    DYNAMIC_FEE_TYPE,
    LEGACY_TYPE,
    MAX_TRANSACTION_BYTES,
    decode_transaction,
    intrinsic_gas,
    recover_sender,
)
from chain.wallet import sign_dynamic_fee, sign_legacy
from contracts import bindings
from tests.chain.ledger_helpers import fresh_ledger, publication

CHAIN_ID = 7304  # local4
TARGET = bytes.fromhex("11" * 20)
CALLDATA = bytes.fromhex("12345678") + bytes(64)


def eth_account_signed(preset: Preset, label: str, **fields: object) -> tuple[bytes, bytes]:
    """(raw transaction, sender address) as eth_account signs and recovers them."""
    account = Account.from_key(preset.key(label).secret)
    transaction = {"nonce": 7, "gas": 200_000, "to": "0x" + TARGET.hex(), "value": 0,
                   "data": CALLDATA, "chainId": CHAIN_ID, **fields}
    if transaction.get("type") == 2:
        transaction.setdefault("maxFeePerGas", 0)
        transaction.setdefault("maxPriorityFeePerGas", 0)
    else:
        transaction.setdefault("gasPrice", 0)
    if transaction["chainId"] is None:
        del transaction["chainId"]
    raw = bytes(account.sign_transaction(transaction).raw_transaction)
    sender = bytes.fromhex(Account.recover_transaction(raw)[2:])
    return raw, sender


def legacy_fields(raw: bytes) -> list[rlp_codec.RlpItem]:
    items = rlp_codec.decode(raw)
    assert isinstance(items, list)
    return items


def test_legacy_from_eth_account_recovers_the_same_sender(preset: Preset) -> None:
    raw, sender = eth_account_signed(preset, "bureau:shanghai")
    transaction = decode_transaction(raw, CHAIN_ID)
    assert transaction.type == LEGACY_TYPE
    assert (transaction.nonce, transaction.gas, transaction.to, transaction.data) == (
        7, 200_000, TARGET, CALLDATA)
    assert recover_sender(transaction) == sender == preset.key("bureau:shanghai").address


def test_dynamic_fee_from_eth_account_recovers_the_same_sender(preset: Preset) -> None:
    access_list = [{"address": "0x" + TARGET.hex(), "storageKeys": ["0x" + "ab" * 32]}]
    raw, sender = eth_account_signed(preset, "bank:hangzhou", type=2, accessList=access_list,
                                     maxFeePerGas=5, maxPriorityFeePerGas=2)
    transaction = decode_transaction(raw, CHAIN_ID)
    assert transaction.type == DYNAMIC_FEE_TYPE
    assert transaction.access_list == ((TARGET, (bytes.fromhex("ab" * 32),)),)
    assert (transaction.max_fee_per_gas, transaction.max_priority_fee_per_gas) == (5, 2)
    assert recover_sender(transaction) == sender == preset.key("bank:hangzhou").address


def test_wallet_signs_the_bytes_eth_account_signs(preset: Preset) -> None:
    key = preset.key("bureau:nanjing")
    raw, _ = eth_account_signed(preset, "bureau:nanjing")
    assert sign_legacy(key, CHAIN_ID, 7, TARGET, CALLDATA, gas=200_000) == raw
    raw, _ = eth_account_signed(preset, "bureau:nanjing", type=2, accessList=[])
    assert sign_dynamic_fee(key, CHAIN_ID, 7, TARGET, CALLDATA, gas=200_000) == raw


@given(label=st.sampled_from(["regulator", "bureau:hefei", "bank:nanjing", "outsider"]),
       nonce=st.integers(0, 2**64 - 1), data=st.binary(max_size=200),
       dynamic=st.booleans())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_eth_account_transaction_recovers_its_signer(
        preset: Preset, label: str, nonce: int, data: bytes, dynamic: bool) -> None:
    fields: dict[str, object] = {"nonce": nonce, "data": data, "gas": 1_000_000}
    if dynamic:
        fields.update(type=2, accessList=[])
    raw, sender = eth_account_signed(preset, label, **fields)
    assert recover_sender(decode_transaction(raw, CHAIN_ID)) == sender


def test_a_flipped_byte_of_r_or_s_never_recovers_the_signer(genesis: Genesis) -> None:
    """Either the signature fails, or it recovers someone else, who is not a member."""
    key = genesis.preset.key("bureau:shanghai")
    raw = publication(genesis, key, 0).raw
    outcomes = []
    for field_index in (7, 8):
        for byte_index in range(0, 32, 3):
            fields = legacy_fields(raw)
            value = bytearray(fields[field_index])  # type: ignore[arg-type]
            value[byte_index % len(value)] ^= 0x01
            fields[field_index] = rlp_codec.encode_int(int.from_bytes(value, "big"))
            tampered = rlp_codec.encode(fields)
            ledger = fresh_ledger(genesis)
            try:
                sender = recover_sender(decode_transaction(tampered, CHAIN_ID))
            except BadSignature:
                outcomes.append("bad signature")
                with pytest.raises(BadSignature):
                    ledger.admit(tampered)
            else:
                outcomes.append("other sender")
                assert sender != key.address
                with pytest.raises(NotAMember, match=sender.hex()):
                    ledger.admit(tampered)
            assert len(ledger.mempool) == 0
    assert "other sender" in outcomes


def test_high_s_is_refused(preset: Preset) -> None:
    key = preset.key("bureau:shanghai")
    raw = sign_legacy(key, CHAIN_ID, 0, TARGET, CALLDATA)
    transaction = decode_transaction(raw, CHAIN_ID)
    assert recover_sender(transaction) == key.address
    fields = legacy_fields(raw)
    fields[6] = rlp_codec.encode_int(CHAIN_ID * 2 + 35 + (1 - transaction.y_parity))
    fields[8] = rlp_codec.encode_int(SECP256K1_ORDER - transaction.s)
    malleated = decode_transaction(rlp_codec.encode(fields), CHAIN_ID)
    with pytest.raises(BadSignature, match="low-s"):
        recover_sender(malleated)


@pytest.mark.parametrize(("r", "s"), [(0, 1), (1, 0), (SECP256K1_ORDER, 1)])
def test_signature_values_out_of_range_are_refused(preset: Preset, r: int, s: int) -> None:
    fields = legacy_fields(sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA))
    fields[7], fields[8] = rlp_codec.encode_int(r), rlp_codec.encode_int(s)
    with pytest.raises(BadSignature):
        recover_sender(decode_transaction(rlp_codec.encode(fields), CHAIN_ID))


def test_dynamic_fee_y_parity_above_one_is_refused(preset: Preset) -> None:
    raw = sign_dynamic_fee(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    fields = rlp_codec.decode(raw[1:])
    assert isinstance(fields, list)
    fields[9] = b"\x02"
    with pytest.raises(BadSignature, match="parity"):
        recover_sender(decode_transaction(bytes((2,)) + rlp_codec.encode(fields), CHAIN_ID))


def test_other_chain_legacy_is_refused(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), 1, 0, TARGET, CALLDATA)
    with pytest.raises(WrongChainId, match="chain id 1, expected 7304") as caught:
        decode_transaction(raw, CHAIN_ID)
    assert caught.value.field == "chainId"


def test_other_chain_dynamic_fee_is_refused(preset: Preset) -> None:
    raw = sign_dynamic_fee(preset.key("regulator"), 7321, 0, TARGET, CALLDATA)
    with pytest.raises(WrongChainId, match="chain id 7321, expected 7304"):
        decode_transaction(raw, CHAIN_ID)


def test_pre_eip155_signature_is_refused(preset: Preset) -> None:
    raw, _ = eth_account_signed(preset, "regulator", chainId=None)
    assert legacy_fields(raw)[6] in (b"\x1b", b"\x1c")  # v = 27 or 28
    with pytest.raises(WrongChainId, match="EIP-155"):
        decode_transaction(raw, CHAIN_ID)


@pytest.mark.parametrize("v", [0, 1, 26, 29, 34])
def test_v_below_eip155_range_is_refused(preset: Preset, v: int) -> None:
    fields = legacy_fields(sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA))
    fields[6] = rlp_codec.encode_int(v)
    with pytest.raises(WrongChainId):
        decode_transaction(rlp_codec.encode(fields), CHAIN_ID)


def _non_canonical_variants(raw: bytes) -> tuple[bytes, list[bytes]]:
    """A canonical control with 3-byte data, and encodings a strict decoder must refuse."""
    fields = legacy_fields(raw)
    assert fields[0] == b"\x05" and len(fields[5]) >= 56
    encoded = [rlp_codec.encode(item) for item in fields]  # type: ignore[arg-type]

    def as_list(items: list[bytes]) -> bytes:
        body = b"".join(items)
        return rlp_codec.encode_length(len(body), 0xC0) + body

    short_data = [*encoded[:5], b"\x83abc", *encoded[6:]]
    body = b"".join(encoded)
    canonical_length = rlp_codec.encode_length(len(body), 0xC0)
    return as_list(short_data), [
        as_list([b"\x82\x00\x05", *encoded[1:]]),  # an integer with a leading zero byte
        as_list([b"\x81\x05", *encoded[1:]]),  # a byte below 0x80 behind a string prefix
        as_list([*encoded[:5], b"\xb8\x03abc", *encoded[6:]]),  # long form, short string
        bytes((canonical_length[0] + 1,)) + b"\x00" + canonical_length[1:] + body,  # 0 in length
    ]


def test_truncated_transaction_is_malformed(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    for cut in (1, 10, len(raw) // 2, len(raw) - 1):
        with pytest.raises(MalformedInput):
            decode_transaction(raw[:cut], CHAIN_ID)
    typed = sign_dynamic_fee(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    for cut in (1, 2, len(typed) - 1):
        with pytest.raises(MalformedInput):
            decode_transaction(typed[:cut], CHAIN_ID)


def test_trailing_bytes_are_malformed(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    with pytest.raises(MalformedInput, match="does not match input length"):
        decode_transaction(raw + b"\x00", CHAIN_ID)
    typed = sign_dynamic_fee(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    with pytest.raises(MalformedInput):
        decode_transaction(typed + b"\x80", CHAIN_ID)


def test_non_canonical_encodings_are_malformed(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 5, TARGET, CALLDATA)
    assert decode_transaction(raw, CHAIN_ID).nonce == 5
    control, variants = _non_canonical_variants(raw)
    assert decode_transaction(control, CHAIN_ID).data == b"abc"
    for variant in variants:
        with pytest.raises(MalformedInput):
            decode_transaction(variant, CHAIN_ID)


def test_non_canonical_single_byte_and_long_form_lengths() -> None:
    with pytest.raises(MalformedInput, match="single byte"):
        rlp_codec.decode(b"\x81\x05")
    with pytest.raises(MalformedInput, match="long form"):
        rlp_codec.decode(b"\xb8\x03abc")
    with pytest.raises(MalformedInput, match="leading zero"):
        rlp_codec.decode(b"\xb9\x00\x38" + bytes(56))
    with pytest.raises(MalformedInput, match="long form"):
        rlp_codec.decode(b"\xf8\x01\x80")


def test_wrong_field_count_is_malformed(preset: Preset) -> None:
    fields = legacy_fields(sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA))
    with pytest.raises(MalformedInput, match="9 fields"):
        decode_transaction(rlp_codec.encode([*fields, b""]), CHAIN_ID)
    with pytest.raises(MalformedInput, match="9 fields"):
        decode_transaction(rlp_codec.encode(fields[:8]), CHAIN_ID)


def test_deeply_nested_field_is_malformed_at_the_default_recursion_limit(
        preset: Preset) -> None:
    """A 64 KiB transaction can nest ~20,000 lists; decoding must not rely on importing py-evm.

    py-evm raises the interpreter's recursion limit to 100,000 when imported; without it (a
    client, a benchmark, a tool that imports only chain.transactions) the limit is 1,000.
    """
    fields = legacy_fields(sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA))
    nested = b"\xc0"
    for _ in range(3_000):
        nested = rlp_codec.encode_length(len(nested), 0xC0) + nested
    body = nested + b"".join(rlp_codec.encode(item) for item in fields[1:])  # type: ignore[arg-type]
    raw = rlp_codec.encode_length(len(body), 0xC0) + body
    assert len(raw) <= MAX_TRANSACTION_BYTES
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    outcome: BaseException | None = None
    try:
        decode_transaction(raw, CHAIN_ID)
    except (MalformedInput, RecursionError) as error:
        outcome = error
    finally:
        sys.setrecursionlimit(limit)
    assert not isinstance(outcome, RecursionError), (
        "decode_transaction hit the recursion limit on nested RLP lists")
    assert isinstance(outcome, MalformedInput)


def test_oversized_transaction_is_refused(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET, bytes(MAX_TRANSACTION_BYTES),
                      gas=5_000_000)
    assert len(raw) > MAX_TRANSACTION_BYTES
    with pytest.raises(OversizedInput, match=f"at most {MAX_TRANSACTION_BYTES}") as caught:
        decode_transaction(raw, CHAIN_ID)
    assert caught.value.http_status == 413


def test_contract_creation_decodes_with_an_empty_recipient(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 0, b"", CALLDATA)
    assert decode_transaction(raw, CHAIN_ID).to == b""  # admission decides who may deploy


def test_short_target_address_is_malformed(preset: Preset) -> None:
    raw = sign_legacy(preset.key("regulator"), CHAIN_ID, 0, TARGET[:19], CALLDATA)
    with pytest.raises(MalformedInput, match="20 bytes"):
        decode_transaction(raw, CHAIN_ID)


@pytest.mark.parametrize("dynamic", [False, True])
def test_value_transfer_is_unsupported(preset: Preset, dynamic: bool) -> None:
    fields: dict[str, object] = {"value": 1}
    if dynamic:
        fields.update(type=2, accessList=[])
    raw, _ = eth_account_signed(preset, "regulator", **fields)
    with pytest.raises(UnsupportedTransaction, match="value must be 0") as caught:
        decode_transaction(raw, CHAIN_ID)
    assert caught.value.field == "value"


@pytest.mark.parametrize("type_byte", [0x00, 0x01, 0x03, 0x04, 0x7F, 0x80, 0xBF])
def test_unknown_type_byte_is_unsupported(preset: Preset, type_byte: int) -> None:
    raw = sign_dynamic_fee(preset.key("regulator"), CHAIN_ID, 0, TARGET, CALLDATA)
    with pytest.raises(UnsupportedTransaction, match=f"type {type_byte} is not accepted"):
        decode_transaction(bytes((type_byte,)) + raw[1:], CHAIN_ID)


def test_empty_transaction_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="empty"):
        decode_transaction(b"", CHAIN_ID)


def test_gas_bounds(preset: Preset) -> None:
    key = preset.key("regulator")
    needed = intrinsic_gas(CALLDATA)
    assert decode_transaction(sign_legacy(key, CHAIN_ID, 0, TARGET, CALLDATA, gas=needed),
                              CHAIN_ID).gas == needed
    for gas in (needed - 1, 30_000_001):
        with pytest.raises(UnsupportedTransaction, match="gas"):
            decode_transaction(sign_legacy(key, CHAIN_ID, 0, TARGET, CALLDATA, gas=gas),
                               CHAIN_ID)


def test_fee_bounds(preset: Preset) -> None:
    key = preset.key("regulator")
    with pytest.raises(UnsupportedTransaction, match="fee per gas"):
        decode_transaction(sign_legacy(key, CHAIN_ID, 0, TARGET, CALLDATA, gas_price=10**16),
                           CHAIN_ID)
    with pytest.raises(MalformedInput, match="maxPriorityFeePerGas"):
        decode_transaction(sign_dynamic_fee(key, CHAIN_ID, 0, TARGET, CALLDATA,
                                            max_fee_per_gas=1, max_priority_fee_per_gas=2),
                           CHAIN_ID)


def _decode_and_recover(raw: bytes) -> None:
    with contextlib.suppress(YrdError):
        recover_sender(decode_transaction(raw, CHAIN_ID))


@given(raw=st.binary(max_size=400))
@settings(max_examples=400, deadline=None)
def test_random_bytes_raise_only_yrd_errors(raw: bytes) -> None:
    _decode_and_recover(raw)


@given(prefix=st.sampled_from([b"\x02", b"\xf8", b"\xc0", b"\xf9\x01"]),
       raw=st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_bytes_behind_plausible_prefixes_raise_only_yrd_errors(prefix: bytes,
                                                                      raw: bytes) -> None:
    _decode_and_recover(prefix + raw)


_VALID = sign_legacy(derive_private_key(b"fuzz"), CHAIN_ID, 3, TARGET, CALLDATA)
_VALID_TYPED = sign_dynamic_fee(derive_private_key(b"fuzz"), CHAIN_ID, 3, TARGET, CALLDATA)


@given(base=st.sampled_from([_VALID, _VALID_TYPED]), data=st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_valid_transactions_raise_only_yrd_errors(base: bytes,
                                                          data: st.DataObject) -> None:
    mutated = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            mutated[position] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            mutated.insert(position, data.draw(st.integers(0, 255)))
        elif len(mutated) > 1:
            del mutated[position]
    _decode_and_recover(bytes(mutated))


@given(item=st.recursive(st.binary(max_size=40), lambda inner: st.lists(inner, max_size=5),
                         max_leaves=20))
@settings(max_examples=200, deadline=None)
def test_random_rlp_structures_raise_only_yrd_errors(item: rlp_codec.RlpItem) -> None:
    encoded = rlp_codec.encode(item)
    assert rlp_codec.decode(encoded) == item
    _decode_and_recover(encoded)
    _decode_and_recover(b"\x02" + encoded)


def test_publish_calldata_decodes_to_the_registry_function(genesis: Genesis) -> None:
    data = bindings.encode_publish(b"\1" * 32, b"\2" * 32, 6, b"\3" * 32)
    raw = sign_legacy(genesis.preset.key("bureau:shanghai"), CHAIN_ID, 0,
                      genesis.contracts.registry, data)
    transaction = decode_transaction(raw, CHAIN_ID)
    assert bindings.function_for(transaction.data).name == "publish"
    assert genesis.contracts.name_of(transaction.to) == "CreditRegistry"
