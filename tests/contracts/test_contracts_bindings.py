"""The bindings agree with the compiled ABI, the deployed code and eth_account."""

from __future__ import annotations

import pytest
from deployed_chain import ENTERPRISE, Chain
from eth_abi.abi import encode
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.crypto import keccak
from evm_harness import CHAIN_ID

from contracts.bindings import (
    DEPLOYMENT_ORDER,
    ERROR_SELECTOR,
    EVENT_LAYOUTS,
    FUNCTIONS,
    PublishItem,
    RecordPublished,
    UnknownFunctionError,
    contract_address,
    decode_bytes32,
    decode_enterprise_id,
    decode_event,
    decode_revert_reason,
    deploy_code,
    domain_separator,
    encode_domain_separator,
    encode_enterprise_id,
    encode_grant_of,
    encode_publish,
    encode_publish_batch,
    event_topic,
    function_for,
    grant_digest,
    grant_typed_data,
    load_artifact,
    revocation_digest,
    revocation_typed_data,
    selector_of,
)


def _abi_entries(kind: str) -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = {}
    for name in DEPLOYMENT_ORDER:
        for entry in load_artifact(name).abi:
            if entry["type"] == kind:
                entries[entry["name"]] = {**entry, "contract": name}
    return entries


def test_function_table_matches_every_abi_function() -> None:
    functions = _abi_entries("function")
    assert set(functions) == set(FUNCTIONS)
    for name, entry in functions.items():
        function = FUNCTIONS[name]
        inputs = entry["inputs"]
        outputs = entry["outputs"]
        assert isinstance(inputs, list) and isinstance(outputs, list)
        assert function.input_types == tuple(item["type"] for item in inputs)
        assert function.output_types == tuple(item["type"] for item in outputs)
        assert function.changes_state == (entry["stateMutability"] == "nonpayable")
        if name != "consortium":
            assert function.contract == entry["contract"]


def test_event_layouts_match_every_abi_event() -> None:
    events = _abi_entries("event")
    layouts = {layout.event_class.__name__: layout for layout in EVENT_LAYOUTS.values()}
    assert set(events) == set(layouts)
    for name, entry in events.items():
        inputs = entry["inputs"]
        assert isinstance(inputs, list)
        declared = tuple((item["name"], item["type"], item["indexed"]) for item in inputs)
        fields = layouts[name].fields
        assert declared == tuple((field.name, field.abi_type, field.indexed) for field in fields)


def test_selector_of_names_the_function() -> None:
    calldata = encode_publish(b"\x01" * 32, ENTERPRISE, 3, b"\x02" * 32)
    assert selector_of(calldata) == "publish"
    assert function_for(calldata).contract == "CreditRegistry"
    assert selector_of(encode_grant_of(ENTERPRISE, b"\x01" * 20)) == "grant_of"
    with pytest.raises(UnknownFunctionError):
        selector_of(b"\xde\xad\xbe\xef")
    with pytest.raises(UnknownFunctionError):
        selector_of(b"")


def test_publish_batch_encodes_parallel_arrays() -> None:
    items = [
        PublishItem(bytes([index + 1]) * 32, ENTERPRISE, index, b"\x07" * 32) for index in range(3)
    ]
    calldata = encode_publish_batch(items)
    assert selector_of(calldata) == "publish_batch"
    expected = encode(
        ["bytes32[]", "bytes32[]", "uint8[]", "bytes32[]"],
        [[item.record_id for item in items], [ENTERPRISE] * 3, [0, 1, 2], [b"\x07" * 32] * 3],
    )
    assert calldata[4:] == expected


def test_decode_revert_reason() -> None:
    assert decode_revert_reason(ERROR_SELECTOR + encode(["string"], ["bad kind"])) == "bad kind"
    assert decode_revert_reason(b"") is None
    assert decode_revert_reason(b"\x00" * 36) is None
    assert decode_revert_reason(ERROR_SELECTOR + b"\x01") is None


def test_decode_event_ignores_unknown_topics() -> None:
    assert decode_event([], b"") is None
    assert decode_event([b"\x01" * 32], b"") is None


def test_decode_event_reads_topics_and_data() -> None:
    publisher = b"\x0a" * 20
    topics = [
        event_topic(RecordPublished),
        b"\x01" * 32,
        ENTERPRISE,
        encode(["address"], [publisher]),
    ]
    data = encode(["uint8", "bytes32", "uint256"], [5, b"\x02" * 32, 1])
    assert decode_event(topics, data) == RecordPublished(
        b"\x01" * 32, ENTERPRISE, publisher, 5, b"\x02" * 32, 1
    )


def test_enterprise_ids_are_zero_padded_ascii() -> None:
    enterprise = encode_enterprise_id("91310000MA1FL0000A")
    assert enterprise == b"91310000MA1FL0000A" + b"\x00" * 14
    assert decode_enterprise_id(enterprise) == "91310000MA1FL0000A"
    with pytest.raises(ValueError):
        encode_enterprise_id("9131")


def test_deploy_code_checks_the_constructor_arity() -> None:
    artifact = load_artifact("CreditRegistry")
    code = deploy_code(artifact, b"\x01" * 20, 10)
    assert code == artifact.bytecode + encode(["address", "uint256"], [b"\x01" * 20, 10])
    with pytest.raises(ValueError):
        deploy_code(artifact, b"\x01" * 20)
    assert deploy_code(load_artifact("Consortium")) == load_artifact("Consortium").bytecode


def test_contract_addresses_follow_the_regulator_nonce(chain: Chain) -> None:
    regulator = chain.cast.regulator.address
    assert contract_address(regulator, 0) == chain.consortium
    assert contract_address(regulator, 1) == chain.registry
    assert contract_address(regulator, 2) == chain.authorization
    assert len(contract_address(regulator, 1000)) == 20


def test_deployed_code_is_the_artifact_runtime(chain: Chain) -> None:
    for name, address in zip(
        DEPLOYMENT_ORDER, (chain.consortium, chain.registry, chain.authorization), strict=True
    ):
        runtime = load_artifact(name).runtime_bytecode
        assert chain.harness.code_at(address)[: len(runtime)] == runtime


def test_domain_separator_matches_the_contract(chain: Chain) -> None:
    on_chain = decode_bytes32(chain.call(chain.authorization, encode_domain_separator()))
    assert on_chain == domain_separator(CHAIN_ID, chain.authorization)
    assert on_chain != domain_separator(CHAIN_ID + 1, chain.authorization)


def test_digests_match_eth_account_typed_data() -> None:
    authorization = b"\x0c" * 20
    querier = b"\x0d" * 20
    grant = encode_typed_data(
        full_message=grant_typed_data(CHAIN_ID, authorization, ENTERPRISE, querier, 3, 99, 4)
    )
    assert grant.header == domain_separator(CHAIN_ID, authorization)
    assert _eip191_digest(grant) == grant_digest(
        CHAIN_ID, authorization, ENTERPRISE, querier, 3, 99, 4
    )
    revocation = encode_typed_data(
        full_message=revocation_typed_data(CHAIN_ID, authorization, ENTERPRISE, querier, 4)
    )
    assert _eip191_digest(revocation) == revocation_digest(
        CHAIN_ID, authorization, ENTERPRISE, querier, 4
    )


def _eip191_digest(message: SignableMessage) -> bytes:
    return keccak(b"\x19" + message.version + message.header + message.body)
