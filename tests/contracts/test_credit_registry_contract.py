"""CreditRegistry: publish, batches, corrections, revocations, disputes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from deployed_chain import ENTERPRISE, OTHER_ENTERPRISE, Chain
from evm_harness import DISPUTE_WINDOW_BLOCKS, Account, CallReverted

from contracts.bindings import (
    PUBLISH_BATCH_LIMIT,
    ROLE_QUERIER,
    UPHELD_DISPUTE_REASON,
    DisputeLapsed,
    DisputeOpened,
    DisputeResolved,
    DisputeResponded,
    DisputeStatus,
    DisputeView,
    PublishItem,
    RecordCorrected,
    RecordPublished,
    RecordRevoked,
    RecordStatus,
    RecordView,
    decode_address,
    decode_bytes32,
    decode_dispute,
    decode_record,
    decode_uint,
    encode_call,
    encode_consortium,
    encode_correct,
    encode_dispute,
    encode_dispute_window,
    encode_lapse,
    encode_open_dispute,
    encode_publish,
    encode_publish_batch,
    encode_record,
    encode_record_at,
    encode_record_count,
    encode_remove,
    encode_resolve,
    encode_respond,
    encode_revoke,
    encode_set_roles,
    encode_suspend,
)

ZERO = b"\x00" * 32
PAYLOAD = b"\x11" * 32
NEW_PAYLOAD = b"\x22" * 32
REASON = b"\x33" * 32
RESPONSE = b"\x44" * 32
DISPUTE = b"\xd1" * 32
SINGLE_PUBLISH_GAS_LIMIT = 165_000  # includes the GB 32100 credit-code check (~7k gas)
BATCH_PUBLISH_GAS_PER_RECORD_LIMIT = 110_000  # with the credit-code check


def record_id(number: int) -> bytes:
    """A distinct non-zero record id."""
    return number.to_bytes(32, "big")


def _record(chain: Chain, identifier: bytes) -> RecordView:
    return decode_record(chain.call(chain.registry, encode_record(identifier)))


def _dispute(chain: Chain, identifier: bytes) -> DisputeView:
    return decode_dispute(chain.call(chain.registry, encode_dispute(identifier)))


def _index(chain: Chain, enterprise: bytes) -> list[bytes]:
    count = decode_uint(chain.call(chain.registry, encode_record_count(enterprise)))
    return [
        decode_bytes32(chain.call(chain.registry, encode_record_at(enterprise, position)))
        for position in range(count)
    ]


def _publish(chain: Chain, publisher: Account, number: int, kind: int = 3) -> bytes:
    identifier = record_id(number)
    chain.transact(publisher, chain.registry, encode_publish(identifier, ENTERPRISE, kind, PAYLOAD))
    return identifier


def _open_dispute(chain: Chain, record: bytes) -> int:
    data = encode_open_dispute(DISPUTE, record, REASON)
    chain.transact(chain.cast.querier, chain.registry, data)
    return chain.harness.block_number + DISPUTE_WINDOW_BLOCKS


def test_constructor_arguments_are_readable(chain: Chain) -> None:
    assert decode_address(chain.call(chain.registry, encode_consortium())) == chain.consortium
    window = decode_uint(chain.call(chain.registry, encode_dispute_window()))
    assert window == DISPUTE_WINDOW_BLOCKS


def test_publish_stores_the_record_and_indexes_it(chain: Chain) -> None:
    publisher = chain.cast.publisher
    chain.harness.advance(5)
    data = encode_publish(record_id(1), ENTERPRISE, 7, PAYLOAD)
    outcome = chain.transact(publisher, chain.registry, data)
    assert outcome.events == (
        RecordPublished(record_id(1), ENTERPRISE, publisher.address, 7, PAYLOAD, 1),
    )
    assert outcome.gas_used < SINGLE_PUBLISH_GAS_LIMIT
    assert _record(chain, record_id(1)) == RecordView(
        enterprise=ENTERPRISE,
        kind=7,
        payload_hash=PAYLOAD,
        publisher=publisher.address,
        version=1,
        previous=ZERO,
        next=ZERO,
        status=RecordStatus.ACTIVE,
        published_at=chain.harness.block_number,
    )
    assert _index(chain, ENTERPRISE) == [record_id(1)]
    assert _index(chain, OTHER_ENTERPRISE) == []


def test_unknown_records_read_as_zero(chain: Chain) -> None:
    assert not _record(chain, record_id(404)).exists
    with pytest.raises(CallReverted) as raised:
        chain.call(chain.registry, encode_record_at(ENTERPRISE, 0))
    assert raised.value.reason == "index out of range"


@pytest.mark.parametrize("sender", ["querier", "node_operator", "stranger", "regulator"])
def test_publish_needs_the_publisher_role(chain: Chain, sender: str) -> None:
    data = encode_publish(record_id(1), ENTERPRISE, 3, PAYLOAD)
    assert chain.refuse(getattr(chain.cast, sender), chain.registry, data) == "not a publisher"


@pytest.mark.parametrize("action", [encode_suspend, encode_remove])
def test_suspended_or_removed_publishers_cannot_publish(
    chain: Chain, action: Callable[[bytes], bytes]
) -> None:
    publisher = chain.cast.publisher
    chain.transact(chain.cast.regulator, chain.consortium, action(publisher.address))
    data = encode_publish(record_id(1), ENTERPRISE, 3, PAYLOAD)
    assert chain.refuse(publisher, chain.registry, data) == "not a publisher"


@pytest.mark.parametrize(
    ("identifier", "enterprise", "kind", "payload_hash", "reason"),
    [
        (record_id(1), ENTERPRISE, 14, PAYLOAD, "bad kind"),
        (record_id(1), ENTERPRISE, 255, PAYLOAD, "bad kind"),
        (record_id(1), ENTERPRISE, 3, ZERO, "zero hash"),
        (ZERO, ENTERPRISE, 3, PAYLOAD, "zero record id"),
        (record_id(1), ZERO, 3, PAYLOAD, "zero enterprise"),
        # GB 32100-2015: wrong check character, lower case, outside the eight cities, padding.
        (record_id(1), b"91310000MA1FL0000A".ljust(32, b"\0"), 3, PAYLOAD, "bad enterprise"),
        (record_id(1), b"91310000ma1fl0000n".ljust(32, b"\0"), 3, PAYLOAD, "bad enterprise"),
        (record_id(1), b"91110000MA1FL00009".ljust(32, b"\0"), 3, PAYLOAD, "bad enterprise"),
        (record_id(1), ENTERPRISE[:31] + b"\1", 3, PAYLOAD, "bad enterprise"),
    ],
)
def test_publish_refuses_bad_arguments(
    chain: Chain, identifier: bytes, enterprise: bytes, kind: int, payload_hash: bytes, reason: str
) -> None:
    data = encode_publish(identifier, enterprise, kind, payload_hash)
    assert chain.refuse(chain.cast.publisher, chain.registry, data) == reason


def test_record_ids_are_used_once(chain: Chain) -> None:
    _publish(chain, chain.cast.publisher, 1)
    for publisher in (chain.cast.publisher, chain.cast.other_publisher):
        data = encode_publish(record_id(1), OTHER_ENTERPRISE, 4, NEW_PAYLOAD)
        assert chain.refuse(publisher, chain.registry, data) == "record exists"


def test_every_kind_below_fourteen_is_accepted(chain: Chain) -> None:
    for kind in range(14):
        _publish(chain, chain.cast.publisher, kind + 1, kind)
    assert len(_index(chain, ENTERPRISE)) == 14


def _batch(count: int, first: int = 1) -> list[PublishItem]:
    return [
        PublishItem(record_id(first + offset), ENTERPRISE, offset % 14, PAYLOAD)
        for offset in range(count)
    ]


def test_publish_batch_of_sixty_four(chain: Chain) -> None:
    publisher = chain.cast.publisher
    items = _batch(PUBLISH_BATCH_LIMIT)
    outcome = chain.transact(publisher, chain.registry, encode_publish_batch(items))
    assert outcome.events == tuple(
        RecordPublished(item.record_id, ENTERPRISE, publisher.address, item.kind, PAYLOAD, 1)
        for item in items
    )
    assert outcome.gas_used < PUBLISH_BATCH_LIMIT * BATCH_PUBLISH_GAS_PER_RECORD_LIMIT
    assert _index(chain, ENTERPRISE) == [item.record_id for item in items]
    assert _record(chain, items[-1].record_id).kind == items[-1].kind


def test_publish_batch_is_all_or_nothing(chain: Chain) -> None:
    publisher = chain.cast.publisher
    items = _batch(3)
    bad_kind = [*items, PublishItem(record_id(9), ENTERPRISE, 14, PAYLOAD)]
    data = encode_publish_batch(bad_kind)
    assert chain.refuse(publisher, chain.registry, data) == "bad kind"
    repeated = [*items, items[0]]
    assert chain.refuse(publisher, chain.registry, encode_publish_batch(repeated)) == (
        "record exists"
    )
    assert chain.refuse(publisher, chain.registry, encode_publish_batch([])) == "empty batch"
    querier = chain.cast.querier
    assert chain.refuse(querier, chain.registry, encode_publish_batch(items)) == "not a publisher"


def test_publish_batch_refuses_more_than_the_limit(chain: Chain) -> None:
    data = encode_publish_batch(_batch(PUBLISH_BATCH_LIMIT + 1))
    assert chain.refuse(chain.cast.publisher, chain.registry, data) is None


def test_publish_batch_refuses_unequal_lengths(chain: Chain) -> None:
    data = encode_call(
        "publish_batch", [record_id(1), record_id(2)], [ENTERPRISE], [1, 2], [PAYLOAD, PAYLOAD]
    )
    assert chain.refuse(chain.cast.publisher, chain.registry, data) == "length mismatch"


def test_correct_links_the_versions(chain: Chain) -> None:
    publisher = chain.cast.publisher
    old = _publish(chain, publisher, 1, kind=5)
    chain.harness.advance(2)
    data = encode_correct(old, record_id(2), NEW_PAYLOAD)
    outcome = chain.transact(publisher, chain.registry, data)
    assert outcome.events == (RecordCorrected(old, record_id(2), ENTERPRISE, NEW_PAYLOAD, 2),)
    old_view = _record(chain, old)
    assert old_view.status == RecordStatus.CORRECTED
    assert old_view.next == record_id(2)
    assert old_view.payload_hash == PAYLOAD
    assert _record(chain, record_id(2)) == RecordView(
        enterprise=ENTERPRISE,
        kind=5,
        payload_hash=NEW_PAYLOAD,
        publisher=publisher.address,
        version=2,
        previous=old,
        next=ZERO,
        status=RecordStatus.ACTIVE,
        published_at=chain.harness.block_number,
    )
    chain.transact(publisher, chain.registry, encode_correct(record_id(2), record_id(3), PAYLOAD))
    assert _record(chain, record_id(3)).version == 3
    assert _index(chain, ENTERPRISE) == [old, record_id(2), record_id(3)]


def test_correct_refusals(chain: Chain) -> None:
    publisher = chain.cast.publisher
    registry = chain.registry
    old = _publish(chain, publisher, 1)
    _publish(chain, publisher, 2)
    other = encode_correct(old, record_id(3), NEW_PAYLOAD)
    assert chain.refuse(chain.cast.other_publisher, registry, other) == "not the publisher"
    assert chain.refuse(chain.cast.regulator, registry, other) == "not the publisher"
    unknown = encode_correct(record_id(404), record_id(3), NEW_PAYLOAD)
    assert chain.refuse(publisher, registry, unknown) == "unknown record"
    taken = encode_correct(old, record_id(2), NEW_PAYLOAD)
    assert chain.refuse(publisher, registry, taken) == "record exists"
    zero_hash = encode_correct(old, record_id(3), ZERO)
    assert chain.refuse(publisher, registry, zero_hash) == "zero hash"
    zero_id = encode_correct(old, ZERO, NEW_PAYLOAD)
    assert chain.refuse(publisher, registry, zero_id) == "zero record id"

    chain.transact(publisher, registry, encode_correct(old, record_id(3), NEW_PAYLOAD))
    again = encode_correct(old, record_id(4), NEW_PAYLOAD)
    assert chain.refuse(publisher, registry, again) == "record not active"


def test_a_publisher_who_lost_the_role_cannot_correct(chain: Chain) -> None:
    publisher = chain.cast.publisher
    old = _publish(chain, publisher, 1)
    chain.transact(
        chain.cast.regulator, chain.consortium, encode_set_roles(publisher.address, ROLE_QUERIER)
    )
    data = encode_correct(old, record_id(2), NEW_PAYLOAD)
    assert chain.refuse(publisher, chain.registry, data) == "not a publisher"


@pytest.mark.parametrize("revoker", ["publisher", "regulator"])
def test_revoke_by_publisher_or_regulator(chain: Chain, revoker: str) -> None:
    identifier = _publish(chain, chain.cast.publisher, 1)
    outcome = chain.transact(
        getattr(chain.cast, revoker), chain.registry, encode_revoke(identifier, 7)
    )
    assert outcome.events == (RecordRevoked(identifier, ENTERPRISE, 7),)
    assert _record(chain, identifier).status == RecordStatus.REVOKED


def test_revoke_refusals(chain: Chain) -> None:
    publisher = chain.cast.publisher
    identifier = _publish(chain, publisher, 1)
    data = encode_revoke(identifier, 1)
    for stranger in (chain.cast.stranger, chain.cast.other_publisher, chain.cast.querier):
        assert chain.refuse(stranger, chain.registry, data) == "not publisher or regulator"
    unknown = encode_revoke(record_id(404), 1)
    assert chain.refuse(publisher, chain.registry, unknown) == "unknown record"
    chain.transact(publisher, chain.registry, data)
    assert chain.refuse(publisher, chain.registry, data) == "record not active"
    assert chain.refuse(chain.cast.regulator, chain.registry, data) == "record not active"
    correct = encode_correct(identifier, record_id(2), NEW_PAYLOAD)
    assert chain.refuse(publisher, chain.registry, correct) == "record not active"


def test_a_suspended_publisher_cannot_revoke_its_record(chain: Chain) -> None:
    publisher = chain.cast.publisher
    identifier = _publish(chain, publisher, 1)
    chain.transact(chain.cast.regulator, chain.consortium, encode_suspend(publisher.address))
    assert chain.refuse(publisher, chain.registry, encode_revoke(identifier, 1)) == (
        "not a publisher"
    )


def test_open_dispute_sets_the_deadline(chain: Chain) -> None:
    identifier = _publish(chain, chain.cast.publisher, 1)
    querier = chain.cast.querier
    chain.harness.advance(3)
    data = encode_open_dispute(DISPUTE, identifier, REASON)
    outcome = chain.transact(querier, chain.registry, data)
    now = chain.harness.block_number
    deadline = now + DISPUTE_WINDOW_BLOCKS
    assert outcome.events == (DisputeOpened(DISPUTE, identifier, querier.address, deadline),)
    assert _dispute(chain, DISPUTE) == DisputeView(
        identifier, querier.address, REASON, ZERO, DisputeStatus.OPEN, now, deadline
    )


def test_a_regulator_may_open_a_dispute(chain: Chain) -> None:
    identifier = _publish(chain, chain.cast.publisher, 1)
    chain.transact(
        chain.cast.regulator, chain.registry, encode_open_dispute(DISPUTE, identifier, REASON)
    )
    assert _dispute(chain, DISPUTE).opener == chain.cast.regulator.address


def test_open_dispute_refusals(chain: Chain) -> None:
    publisher = chain.cast.publisher
    querier = chain.cast.querier
    registry = chain.registry
    identifier = _publish(chain, publisher, 1)
    data = encode_open_dispute(DISPUTE, identifier, REASON)
    for outsider in (publisher, chain.cast.node_operator, chain.cast.stranger):
        assert chain.refuse(outsider, registry, data) == "not querier or regulator"
    unknown = encode_open_dispute(DISPUTE, record_id(404), REASON)
    assert chain.refuse(querier, registry, unknown) == "unknown record"
    zero_hash = encode_open_dispute(DISPUTE, identifier, ZERO)
    assert chain.refuse(querier, registry, zero_hash) == "zero hash"
    zero_id = encode_open_dispute(ZERO, identifier, REASON)
    assert chain.refuse(querier, registry, zero_id) == "zero dispute id"
    chain.transact(querier, registry, data)
    assert chain.refuse(querier, registry, data) == "dispute exists"
    chain.transact(publisher, registry, encode_revoke(identifier, 1))
    revoked = encode_open_dispute(b"\xd2" * 32, identifier, REASON)
    assert chain.refuse(querier, registry, revoked) == "record not active"


def test_respond_until_the_deadline_inclusive(chain: Chain) -> None:
    publisher = chain.cast.publisher
    deadline = _open_dispute(chain, _publish(chain, publisher, 1))
    chain.harness.set_block(deadline, chain.harness.timestamp + 100)
    outcome = chain.transact(publisher, chain.registry, encode_respond(DISPUTE, RESPONSE))
    assert outcome.events == (DisputeResponded(DISPUTE, RESPONSE),)
    view = _dispute(chain, DISPUTE)
    assert view.status == DisputeStatus.RESPONDED
    assert view.response_hash == RESPONSE


def test_respond_refusals(chain: Chain) -> None:
    publisher = chain.cast.publisher
    registry = chain.registry
    deadline = _open_dispute(chain, _publish(chain, publisher, 1))
    data = encode_respond(DISPUTE, RESPONSE)
    assert chain.refuse(chain.cast.other_publisher, registry, data) == "not the publisher"
    assert chain.refuse(chain.cast.querier, registry, data) == "not the publisher"
    zero = encode_respond(DISPUTE, ZERO)
    assert chain.refuse(publisher, registry, zero) == "zero hash"
    unknown = encode_respond(b"\xee" * 32, RESPONSE)
    assert chain.refuse(publisher, registry, unknown) == "unknown dispute"
    chain.harness.set_block(deadline + 1, chain.harness.timestamp + 100)
    assert chain.refuse(publisher, registry, data) == "deadline passed"


def test_respond_twice_is_refused(chain: Chain) -> None:
    publisher = chain.cast.publisher
    _open_dispute(chain, _publish(chain, publisher, 1))
    data = encode_respond(DISPUTE, RESPONSE)
    chain.transact(publisher, chain.registry, data)
    assert chain.refuse(publisher, chain.registry, data) == "dispute not open"


def test_an_upheld_dispute_revokes_the_record(chain: Chain) -> None:
    publisher = chain.cast.publisher
    identifier = _publish(chain, publisher, 1)
    _open_dispute(chain, identifier)
    chain.transact(publisher, chain.registry, encode_respond(DISPUTE, RESPONSE))
    outcome = chain.transact(chain.cast.regulator, chain.registry, encode_resolve(DISPUTE, True))
    assert outcome.events == (
        DisputeResolved(DISPUTE, True),
        RecordRevoked(identifier, ENTERPRISE, UPHELD_DISPUTE_REASON),
    )
    assert _dispute(chain, DISPUTE).status == DisputeStatus.UPHELD
    assert _record(chain, identifier).status == RecordStatus.REVOKED


def test_a_rejected_dispute_leaves_the_record(chain: Chain) -> None:
    identifier = _publish(chain, chain.cast.publisher, 1)
    _open_dispute(chain, identifier)
    outcome = chain.transact(chain.cast.regulator, chain.registry, encode_resolve(DISPUTE, False))
    assert outcome.events == (DisputeResolved(DISPUTE, False),)
    assert _dispute(chain, DISPUTE).status == DisputeStatus.REJECTED
    assert _record(chain, identifier).status == RecordStatus.ACTIVE


def test_upholding_a_corrected_record_leaves_its_versions(chain: Chain) -> None:
    publisher = chain.cast.publisher
    identifier = _publish(chain, publisher, 1)
    _open_dispute(chain, identifier)
    chain.transact(publisher, chain.registry, encode_correct(identifier, record_id(2), NEW_PAYLOAD))
    outcome = chain.transact(chain.cast.regulator, chain.registry, encode_resolve(DISPUTE, True))
    assert outcome.events == (DisputeResolved(DISPUTE, True),)
    assert _record(chain, identifier).status == RecordStatus.CORRECTED
    assert _record(chain, record_id(2)).status == RecordStatus.ACTIVE


def test_resolve_refusals(chain: Chain) -> None:
    registry = chain.registry
    _open_dispute(chain, _publish(chain, chain.cast.publisher, 1))
    data = encode_resolve(DISPUTE, True)
    for outsider in (chain.cast.publisher, chain.cast.querier, chain.cast.stranger):
        assert chain.refuse(outsider, registry, data) == "not a regulator"
    unknown = encode_resolve(b"\xee" * 32, True)
    assert chain.refuse(chain.cast.regulator, registry, unknown) == "unknown dispute"
    chain.transact(chain.cast.regulator, registry, encode_resolve(DISPUTE, False))
    assert chain.refuse(chain.cast.regulator, registry, data) == "dispute closed"


def test_lapse_after_the_deadline_then_resolve(chain: Chain) -> None:
    publisher = chain.cast.publisher
    registry = chain.registry
    deadline = _open_dispute(chain, _publish(chain, publisher, 1))
    data = encode_lapse(DISPUTE)
    assert chain.refuse(chain.cast.stranger, registry, data) == "deadline not passed"
    chain.harness.set_block(deadline, chain.harness.timestamp + 100)
    assert chain.refuse(chain.cast.stranger, registry, data) == "deadline not passed"
    chain.harness.set_block(deadline + 1, chain.harness.timestamp + 100)
    outcome = chain.transact(chain.cast.stranger, registry, data)
    assert outcome.events == (DisputeLapsed(DISPUTE),)
    assert _dispute(chain, DISPUTE).status == DisputeStatus.LAPSED
    assert chain.refuse(chain.cast.stranger, registry, data) == "dispute not open"
    assert chain.refuse(publisher, registry, encode_respond(DISPUTE, RESPONSE)) == (
        "dispute not open"
    )
    chain.transact(chain.cast.regulator, registry, encode_resolve(DISPUTE, True))
    assert _dispute(chain, DISPUTE).status == DisputeStatus.UPHELD


def test_lapse_refuses_answered_and_unknown_disputes(chain: Chain) -> None:
    publisher = chain.cast.publisher
    deadline = _open_dispute(chain, _publish(chain, publisher, 1))
    chain.transact(publisher, chain.registry, encode_respond(DISPUTE, RESPONSE))
    chain.harness.set_block(deadline + 1, chain.harness.timestamp + 100)
    data = encode_lapse(DISPUTE)
    assert chain.refuse(chain.cast.stranger, chain.registry, data) == "dispute not open"
    unknown = encode_lapse(b"\xee" * 32)
    assert chain.refuse(chain.cast.stranger, chain.registry, unknown) == "unknown dispute"


def test_refuse_detects_a_changed_state(chain: Chain) -> None:
    data = encode_publish(record_id(1), ENTERPRISE, 3, PAYLOAD)
    with pytest.raises(AssertionError):
        chain.refuse(chain.cast.publisher, chain.registry, data)
