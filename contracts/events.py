"""The contracts' events as frozen dataclasses, and the decoder of a log into one.

`decode_event(topics, data)` picks the event by topic0 and returns None for logs of events
this package does not know. bytes32 and address fields are bytes (addresses 20 raw bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from contracts.words import decode_static_word as decode_static_word  # re-exported


@dataclass(frozen=True, slots=True)
class InstitutionAdmitted:
    """Consortium: an account joined with roles in a city."""

    account: bytes
    roles: int
    city: int
    name: str


@dataclass(frozen=True, slots=True)
class RolesChanged:
    """Consortium: an institution's role bits were replaced."""

    account: bytes
    roles: int


@dataclass(frozen=True, slots=True)
class InstitutionSuspended:
    """Consortium: an institution may no longer act until reinstated."""

    account: bytes


@dataclass(frozen=True, slots=True)
class InstitutionReinstated:
    """Consortium: a suspended institution is active again."""

    account: bytes


@dataclass(frozen=True, slots=True)
class InstitutionRemoved:
    """Consortium: an institution left for good."""

    account: bytes


@dataclass(frozen=True, slots=True)
class ValidatorAdded:
    """Consortium: a node key joined the validator set."""

    node_key: bytes
    city: int


@dataclass(frozen=True, slots=True)
class ValidatorRemoved:
    """Consortium: a node key left the validator set."""

    node_key: bytes


@dataclass(frozen=True, slots=True)
class RecordPublished:
    """CreditRegistry: version 1 of a record (from publish or publish_batch)."""

    record_id: bytes
    enterprise: bytes
    publisher: bytes
    kind: int
    payload_hash: bytes
    version: int


@dataclass(frozen=True, slots=True)
class RecordCorrected:
    """CreditRegistry: a new version replaced an active record (same enterprise and kind)."""

    old_record_id: bytes
    new_record_id: bytes
    enterprise: bytes
    payload_hash: bytes
    version: int


@dataclass(frozen=True, slots=True)
class RecordRevoked:
    """CreditRegistry: a record was withdrawn; reason 255 when an upheld dispute did it."""

    record_id: bytes
    enterprise: bytes
    reason: int


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """CreditRegistry: a record is contested; the publisher may respond until the deadline."""

    dispute_id: bytes
    record_id: bytes
    opener: bytes
    deadline: int


@dataclass(frozen=True, slots=True)
class DisputeResponded:
    """CreditRegistry: the publisher answered a dispute."""

    dispute_id: bytes
    response_hash: bytes


@dataclass(frozen=True, slots=True)
class DisputeResolved:
    """CreditRegistry: a regulator decided a dispute."""

    dispute_id: bytes
    upheld: bool


@dataclass(frozen=True, slots=True)
class DisputeLapsed:
    """CreditRegistry: the deadline passed without a response."""

    dispute_id: bytes


@dataclass(frozen=True, slots=True)
class EnterpriseRegistered:
    """Authorization: the account whose signatures speak for an enterprise."""

    enterprise: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class GrantIssued:
    """Authorization: an enterprise let a querier read record kinds in `scope` until expiry."""

    enterprise: bytes
    querier: bytes
    scope: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class GrantRevoked:
    """Authorization: an enterprise withdrew its grant to a querier."""

    enterprise: bytes
    querier: bytes


@dataclass(frozen=True, slots=True)
class AuditAnchored:
    """Authorization: a node anchored the Merkle root of its next batch of query logs."""

    node_id: bytes
    batch_seq: int
    merkle_root: bytes
    entry_count: int


Event = (
    InstitutionAdmitted
    | RolesChanged
    | InstitutionSuspended
    | InstitutionReinstated
    | InstitutionRemoved
    | ValidatorAdded
    | ValidatorRemoved
    | RecordPublished
    | RecordCorrected
    | RecordRevoked
    | DisputeOpened
    | DisputeResponded
    | DisputeResolved
    | DisputeLapsed
    | EnterpriseRegistered
    | GrantIssued
    | GrantRevoked
    | AuditAnchored
)


@dataclass(frozen=True, slots=True)
class EventField:
    """One field of an event as the contract declares it."""

    name: str
    abi_type: str
    indexed: bool


@dataclass(frozen=True, slots=True)
class EventLayout:
    """How an event is laid out in a log: its class, fields in declaration order, topic0."""

    event_class: type[Event]
    fields: tuple[EventField, ...]

    @property
    def signature(self) -> str:
        """The canonical signature, e.g. `RecordRevoked(bytes32,bytes32,uint8)`."""
        types = ",".join(field.abi_type for field in self.fields)
        return f"{self.event_class.__name__}({types})"

    @property
    def topic(self) -> bytes:
        """topic0 of the event's logs."""
        return keccak(text=self.signature)


def _indexed(name: str, abi_type: str) -> EventField:
    return EventField(name, abi_type, indexed=True)


def _data(name: str, abi_type: str) -> EventField:
    return EventField(name, abi_type, indexed=False)


def _layout(event_class: type[Event], *fields: EventField) -> EventLayout:
    return EventLayout(event_class, fields)


_LAYOUTS = (
    _layout(
        InstitutionAdmitted,
        _indexed("account", "address"),
        _data("roles", "uint256"),
        _data("city", "uint16"),
        _data("name", "string"),
    ),
    _layout(RolesChanged, _indexed("account", "address"), _data("roles", "uint256")),
    _layout(InstitutionSuspended, _indexed("account", "address")),
    _layout(InstitutionReinstated, _indexed("account", "address")),
    _layout(InstitutionRemoved, _indexed("account", "address")),
    _layout(ValidatorAdded, _indexed("node_key", "bytes32"), _data("city", "uint16")),
    _layout(ValidatorRemoved, _indexed("node_key", "bytes32")),
    _layout(
        RecordPublished,
        _indexed("record_id", "bytes32"),
        _indexed("enterprise", "bytes32"),
        _indexed("publisher", "address"),
        _data("kind", "uint8"),
        _data("payload_hash", "bytes32"),
        _data("version", "uint256"),
    ),
    _layout(
        RecordCorrected,
        _indexed("old_record_id", "bytes32"),
        _indexed("new_record_id", "bytes32"),
        _indexed("enterprise", "bytes32"),
        _data("payload_hash", "bytes32"),
        _data("version", "uint256"),
    ),
    _layout(
        RecordRevoked,
        _indexed("record_id", "bytes32"),
        _indexed("enterprise", "bytes32"),
        _data("reason", "uint8"),
    ),
    _layout(
        DisputeOpened,
        _indexed("dispute_id", "bytes32"),
        _indexed("record_id", "bytes32"),
        _indexed("opener", "address"),
        _data("deadline", "uint256"),
    ),
    _layout(DisputeResponded, _indexed("dispute_id", "bytes32"), _data("response_hash", "bytes32")),
    _layout(DisputeResolved, _indexed("dispute_id", "bytes32"), _data("upheld", "bool")),
    _layout(DisputeLapsed, _indexed("dispute_id", "bytes32")),
    _layout(EnterpriseRegistered, _indexed("enterprise", "bytes32"), _data("key", "address")),
    _layout(
        GrantIssued,
        _indexed("enterprise", "bytes32"),
        _indexed("querier", "address"),
        _data("scope", "uint256"),
        _data("expires_at", "uint256"),
    ),
    _layout(GrantRevoked, _indexed("enterprise", "bytes32"), _indexed("querier", "address")),
    _layout(
        AuditAnchored,
        _indexed("node_id", "bytes32"),
        _indexed("batch_seq", "uint256"),
        _data("merkle_root", "bytes32"),
        _data("entry_count", "uint256"),
    ),
)

EVENT_LAYOUTS: Mapping[type[Event], EventLayout] = MappingProxyType(
    {layout.event_class: layout for layout in _LAYOUTS}
)
"""The layout of every event, by event class."""

_LAYOUTS_BY_TOPIC: Mapping[bytes, EventLayout] = MappingProxyType(
    {layout.topic: layout for layout in _LAYOUTS}
)


def event_topic(event_class: type[Event]) -> bytes:
    """topic0 of an event class, for filtering logs."""
    return EVENT_LAYOUTS[event_class].topic


def _plain(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return bytes.fromhex(value[2:])
    return value


_STATIC_TYPES = frozenset({"bytes32", "address", "bool", "uint8", "uint16", "uint256"})


def _decode_static(layout: EventLayout, topics: Sequence[bytes], data: bytes) -> Event | None:
    """The fast path of `decode_event` for events whose fields are all static words."""
    values: dict[str, Any] = {}
    position = 0
    topic_index = 1
    for field in layout.fields:
        if field.indexed:
            word = bytes(topics[topic_index])
            topic_index += 1
        else:
            word = data[position:position + 32]
            position += 32
        values[field.name] = decode_static_word(field.abi_type, word)
    return layout.event_class(**values)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What `decode_event` needs of a layout, worked out once per event."""

    layout: EventLayout
    indexed_fields: tuple[EventField, ...]
    data_fields: tuple[EventField, ...]
    static_data_bytes: int | None  # the data's length when every field is a static word


def _shape(layout: EventLayout) -> _Shape:
    indexed = tuple(field for field in layout.fields if field.indexed)
    data = tuple(field for field in layout.fields if not field.indexed)
    static = all(field.abi_type in _STATIC_TYPES for field in layout.fields)
    return _Shape(layout, indexed, data, 32 * len(data) if static else None)


_SHAPES_BY_TOPIC: Mapping[bytes, _Shape] = MappingProxyType(
    {topic: _shape(layout) for topic, layout in _LAYOUTS_BY_TOPIC.items()}
)


def decode_event(topics: Sequence[bytes], data: bytes) -> Event | None:
    """The event a log carries, or None when topic0 names no event of the contracts."""
    if not topics:
        return None
    shape = _SHAPES_BY_TOPIC.get(bytes(topics[0]))
    if shape is None:
        return None
    layout, indexed_fields, data_fields = shape.layout, shape.indexed_fields, shape.data_fields
    if len(topics) != len(indexed_fields) + 1:
        return None
    if (shape.static_data_bytes == len(data)
            and all(len(topic) == 32 for topic in topics)):
        return _decode_static(layout, topics, data)
    values: dict[str, Any] = {}
    for field, topic in zip(indexed_fields, topics[1:], strict=True):
        (values[field.name],) = decode([field.abi_type], bytes(topic))
    data_values = decode([field.abi_type for field in data_fields], data)
    values.update(zip((field.name for field in data_fields), data_values, strict=True))
    plain = {field.name: _plain(field.abi_type, values[field.name]) for field in layout.fields}
    return layout.event_class(**plain)
