"""An event the native engine lays out as a log is taken back by `decode_event` without decoding,
once, and only when decoding would give exactly it back."""

from __future__ import annotations

from chain.engine.abi import event_log
from contracts import events
from contracts.events import RecordPublished, decode_event

REGISTRY = b"\x11" * 20


def _published(record_id: bytes, kind: int = 2) -> RecordPublished:
    return RecordPublished(record_id, b"9131" + bytes(28), b"\x22" * 20, kind, b"\x33" * 32, 1)


def test_a_logged_event_comes_back_as_itself_once_then_by_decoding() -> None:
    event = _published(b"\x01" * 32)
    log = event_log(REGISTRY, event)
    assert decode_event(log.topics, log.data) is event
    again = decode_event(log.topics, log.data)  # decoded from the bytes this time
    assert again == event and again is not event


def test_an_event_whose_log_decodes_to_other_values_is_not_remembered() -> None:
    short_id = _published(b"\x01" * 31)  # laid out padded to 32 bytes: decodes to another id
    log = event_log(REGISTRY, short_id)
    decoded = decode_event(log.topics, log.data)
    assert isinstance(decoded, RecordPublished)
    assert decoded.record_id == b"\x01" * 31 + b"\0" and decoded != short_id
    as_bool = _published(b"\x02" * 32, kind=True)  # type: ignore[arg-type]
    log = event_log(REGISTRY, as_bool)
    decoded = decode_event(log.topics, log.data)
    assert isinstance(decoded, RecordPublished) and type(decoded.kind) is int


def test_only_the_latest_events_are_kept() -> None:
    for index in range(events.REMEMBERED_EVENTS + 10):
        event_log(REGISTRY, _published(index.to_bytes(32, "big")))
    assert len(events._encoded) <= events.REMEMBERED_EVENTS
    events._encoded.clear()
