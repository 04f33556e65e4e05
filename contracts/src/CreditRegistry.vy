# pragma version ~=0.4.3
"""
@title CreditRegistry
@notice Enterprise credit records: the keccak hash of each record's payload (the payload itself
        stays at the city node that owns it), its versions, its revocation, and disputes over it.
        Publishing is the hot path: a new record writes three slots of its own (enterprise,
        payload hash, and one packed header word) plus two for the enterprise index.
"""

interface Consortium:
    def has_role(account: address, role: uint256) -> bool: view


ROLE_PUBLISHER: constant(uint256) = 1
ROLE_QUERIER: constant(uint256) = 2
ROLE_REGULATOR: constant(uint256) = 4

KIND_COUNT: constant(uint8) = 14
BATCH_LIMIT: constant(uint256) = 64
UPHELD_DISPUTE_REASON: constant(uint8) = 255

RECORD_ACTIVE: constant(uint8) = 1
RECORD_CORRECTED: constant(uint8) = 2
RECORD_REVOKED: constant(uint8) = 3

DISPUTE_OPEN: constant(uint8) = 1
DISPUTE_RESPONDED: constant(uint8) = 2
DISPUTE_UPHELD: constant(uint8) = 3
DISPUTE_REJECTED: constant(uint8) = 4
DISPUTE_LAPSED: constant(uint8) = 5

# Layout of a record header word, low bits first:
# publisher (160 bits) | kind (8) | status (8) | version (32) | published_at block (48).
KIND_SHIFT: constant(uint256) = 160
STATUS_SHIFT: constant(uint256) = 168
VERSION_SHIFT: constant(uint256) = 176
PUBLISHED_AT_SHIFT: constant(uint256) = 208
ADDRESS_MASK: constant(uint256) = (1 << 160) - 1
BYTE_MASK: constant(uint256) = 255
VERSION_MASK: constant(uint256) = (1 << 32) - 1
STATUS_FIELD: constant(uint256) = 255 << 168

# An enterprise is its Unified Social Credit Code (GB 32100-2015) in ASCII, left-aligned in 32
# bytes: 18 characters of "0123456789ABCDEFGHJKLMNPQRTUWXY", characters 3-8 the six digits of an
# administrative division of one of the chain's eight cities, the last a check character (weights
# 3^i mod 31 over the first 17), then 14 zero bytes. `chain/enterprise.py` is the same rule.
CODE_LENGTH: constant(uint256) = 18
CODE_RADIX: constant(uint256) = 31
CODE_PADDING_MASK: constant(uint256) = (1 << 112) - 1


struct StoredRecord:
    enterprise: bytes32
    payload_hash: bytes32
    header: uint256
    previous: bytes32
    next: bytes32


struct Dispute:
    record_id: bytes32
    opener: address
    reason_hash: bytes32
    response_hash: bytes32
    status: uint8
    opened_at: uint256
    deadline: uint256


event RecordPublished:
    record_id: indexed(bytes32)
    enterprise: indexed(bytes32)
    publisher: indexed(address)
    kind: uint8
    payload_hash: bytes32
    version: uint256

event RecordCorrected:
    old_record_id: indexed(bytes32)
    new_record_id: indexed(bytes32)
    enterprise: indexed(bytes32)
    payload_hash: bytes32
    version: uint256

event RecordRevoked:
    record_id: indexed(bytes32)
    enterprise: indexed(bytes32)
    reason: uint8

event DisputeOpened:
    dispute_id: indexed(bytes32)
    record_id: indexed(bytes32)
    opener: indexed(address)
    deadline: uint256

event DisputeResponded:
    dispute_id: indexed(bytes32)
    response_hash: bytes32

event DisputeResolved:
    dispute_id: indexed(bytes32)
    upheld: bool

event DisputeLapsed:
    dispute_id: indexed(bytes32)


consortium: public(immutable(Consortium))
dispute_window: public(immutable(uint256))

records: HashMap[bytes32, StoredRecord]
enterprise_records: HashMap[bytes32, HashMap[uint256, bytes32]]
enterprise_record_counts: HashMap[bytes32, uint256]
disputes: HashMap[bytes32, Dispute]


@deploy
def __init__(consortium_address: address, dispute_window_blocks: uint256):
    assert consortium_address != empty(address), "zero consortium"
    assert dispute_window_blocks != 0, "zero window"
    consortium = Consortium(consortium_address)
    dispute_window = dispute_window_blocks


@internal
@view
def _header(publisher: address, kind: uint8, status: uint8, version: uint256) -> uint256:
    return (
        convert(publisher, uint256)
        | (convert(kind, uint256) << KIND_SHIFT)
        | (convert(status, uint256) << STATUS_SHIFT)
        | (version << VERSION_SHIFT)
        | (block.number << PUBLISHED_AT_SHIFT)
    )


@internal
@pure
def _publisher_of(header: uint256) -> address:
    return convert(convert(header & ADDRESS_MASK, uint160), address)


@internal
@pure
def _kind_of(header: uint256) -> uint8:
    return convert((header >> KIND_SHIFT) & BYTE_MASK, uint8)


@internal
@pure
def _status_of(header: uint256) -> uint8:
    return convert((header >> STATUS_SHIFT) & BYTE_MASK, uint8)


@internal
@pure
def _version_of(header: uint256) -> uint256:
    return (header >> VERSION_SHIFT) & VERSION_MASK


@internal
@pure
def _with_status(header: uint256, status: uint8) -> uint256:
    return (header & ~STATUS_FIELD) | (convert(status, uint256) << STATUS_SHIFT)


@internal
@pure
def _code_value(character: uint256) -> uint256:
    # The value of one credit-code character, CODE_RADIX when it is outside the alphabet.
    if character >= 48 and character <= 57:
        return character - 48
    if character < 65 or character > 89:
        return CODE_RADIX
    if character == 73 or character == 79 or character == 83 or character == 86:
        return CODE_RADIX
    value: uint256 = character - 55
    if character > 73:
        value -= 1
    if character > 79:
        value -= 1
    if character > 83:
        value -= 1
    if character > 86:
        value -= 1
    return value


@internal
@pure
def _is_chain_division(division: uint256) -> bool:
    # Shanghai 31xxxx; Nanjing 3201, Changzhou 3204, Suzhou 3205, Suqian 3213; Hangzhou 3301,
    # Taizhou 3310; Hefei 3401.
    if division // 10000 == 31:
        return True
    prefix: uint256 = division // 100
    return (
        prefix == 3201 or prefix == 3204 or prefix == 3205 or prefix == 3213
        or prefix == 3301 or prefix == 3310 or prefix == 3401
    )


@internal
@pure
def _is_credit_code(enterprise: bytes32) -> bool:
    word: uint256 = convert(enterprise, uint256)
    if word & CODE_PADDING_MASK != 0:
        return False
    total: uint256 = 0
    weight: uint256 = 1
    division: uint256 = 0
    for index: uint256 in range(CODE_LENGTH):
        character: uint256 = (word >> (248 - 8 * index)) & BYTE_MASK
        value: uint256 = self._code_value(character)
        if value == CODE_RADIX:
            return False
        if index >= 2 and index <= 7:
            if value > 9:
                return False
            division = division * 10 + value
        if index < CODE_LENGTH - 1:
            total += value * weight
            weight = weight * 3 % CODE_RADIX
        elif value != (CODE_RADIX - total % CODE_RADIX) % CODE_RADIX:
            return False
    return self._is_chain_division(division)


@internal
@view
def _has_role(account: address, role: uint256) -> bool:
    return staticcall consortium.has_role(account, role)


@internal
def _append_to_index(enterprise: bytes32, record_id: bytes32):
    count: uint256 = self.enterprise_record_counts[enterprise]
    self.enterprise_records[enterprise][count] = record_id
    self.enterprise_record_counts[enterprise] = count + 1


@internal
def _publish(record_id: bytes32, enterprise: bytes32, kind: uint8, payload_hash: bytes32):
    assert record_id != empty(bytes32), "zero record id"
    assert enterprise != empty(bytes32), "zero enterprise"
    assert self._is_credit_code(enterprise), "bad enterprise"
    assert payload_hash != empty(bytes32), "zero hash"
    assert kind < KIND_COUNT, "bad kind"
    assert self.records[record_id].header == 0, "record exists"
    self.records[record_id].enterprise = enterprise
    self.records[record_id].payload_hash = payload_hash
    self.records[record_id].header = self._header(msg.sender, kind, RECORD_ACTIVE, 1)
    self._append_to_index(enterprise, record_id)
    log RecordPublished(
        record_id=record_id,
        enterprise=enterprise,
        publisher=msg.sender,
        kind=kind,
        payload_hash=payload_hash,
        version=1,
    )


@internal
def _revoke(record_id: bytes32, header: uint256, reason: uint8):
    self.records[record_id].header = self._with_status(header, RECORD_REVOKED)
    log RecordRevoked(
        record_id=record_id, enterprise=self.records[record_id].enterprise, reason=reason
    )


@external
def publish(record_id: bytes32, enterprise: bytes32, kind: uint8, payload_hash: bytes32):
    assert self._has_role(msg.sender, ROLE_PUBLISHER), "not a publisher"
    self._publish(record_id, enterprise, kind, payload_hash)


@external
def publish_batch(
    record_ids: DynArray[bytes32, BATCH_LIMIT],
    enterprises: DynArray[bytes32, BATCH_LIMIT],
    kinds: DynArray[uint8, BATCH_LIMIT],
    payload_hashes: DynArray[bytes32, BATCH_LIMIT],
):
    assert self._has_role(msg.sender, ROLE_PUBLISHER), "not a publisher"
    count: uint256 = len(record_ids)
    assert count != 0, "empty batch"
    assert (
        len(enterprises) == count and len(kinds) == count and len(payload_hashes) == count
    ), "length mismatch"
    for index: uint256 in range(count, bound=BATCH_LIMIT):
        self._publish(record_ids[index], enterprises[index], kinds[index], payload_hashes[index])


@external
def correct(old_record_id: bytes32, new_record_id: bytes32, payload_hash: bytes32):
    header: uint256 = self.records[old_record_id].header
    assert header != 0, "unknown record"
    assert self._publisher_of(header) == msg.sender, "not the publisher"
    assert self._has_role(msg.sender, ROLE_PUBLISHER), "not a publisher"
    assert self._status_of(header) == RECORD_ACTIVE, "record not active"
    assert new_record_id != empty(bytes32), "zero record id"
    assert payload_hash != empty(bytes32), "zero hash"
    assert self.records[new_record_id].header == 0, "record exists"
    enterprise: bytes32 = self.records[old_record_id].enterprise
    version: uint256 = self._version_of(header) + 1
    self.records[old_record_id].header = self._with_status(header, RECORD_CORRECTED)
    self.records[old_record_id].next = new_record_id
    self.records[new_record_id].enterprise = enterprise
    self.records[new_record_id].payload_hash = payload_hash
    self.records[new_record_id].header = self._header(
        msg.sender, self._kind_of(header), RECORD_ACTIVE, version
    )
    self.records[new_record_id].previous = old_record_id
    self._append_to_index(enterprise, new_record_id)
    log RecordCorrected(
        old_record_id=old_record_id,
        new_record_id=new_record_id,
        enterprise=enterprise,
        payload_hash=payload_hash,
        version=version,
    )


@external
def revoke(record_id: bytes32, reason: uint8):
    header: uint256 = self.records[record_id].header
    assert header != 0, "unknown record"
    if self._publisher_of(header) == msg.sender:
        assert self._has_role(msg.sender, ROLE_PUBLISHER), "not a publisher"
    else:
        assert self._has_role(msg.sender, ROLE_REGULATOR), "not publisher or regulator"
    assert self._status_of(header) == RECORD_ACTIVE, "record not active"
    self._revoke(record_id, header, reason)


@external
def open_dispute(dispute_id: bytes32, record_id: bytes32, reason_hash: bytes32):
    assert self._has_role(msg.sender, ROLE_QUERIER | ROLE_REGULATOR), "not querier or regulator"
    assert dispute_id != empty(bytes32), "zero dispute id"
    assert reason_hash != empty(bytes32), "zero hash"
    assert self.disputes[dispute_id].status == 0, "dispute exists"
    header: uint256 = self.records[record_id].header
    assert header != 0, "unknown record"
    assert self._status_of(header) == RECORD_ACTIVE, "record not active"
    deadline: uint256 = block.number + dispute_window
    self.disputes[dispute_id] = Dispute(
        record_id=record_id,
        opener=msg.sender,
        reason_hash=reason_hash,
        response_hash=empty(bytes32),
        status=DISPUTE_OPEN,
        opened_at=block.number,
        deadline=deadline,
    )
    log DisputeOpened(
        dispute_id=dispute_id, record_id=record_id, opener=msg.sender, deadline=deadline
    )


@external
def respond(dispute_id: bytes32, response_hash: bytes32):
    status: uint8 = self.disputes[dispute_id].status
    assert status != 0, "unknown dispute"
    assert status == DISPUTE_OPEN, "dispute not open"
    assert block.number <= self.disputes[dispute_id].deadline, "deadline passed"
    header: uint256 = self.records[self.disputes[dispute_id].record_id].header
    assert self._publisher_of(header) == msg.sender, "not the publisher"
    assert self._has_role(msg.sender, ROLE_PUBLISHER), "not a publisher"
    assert response_hash != empty(bytes32), "zero hash"
    self.disputes[dispute_id].response_hash = response_hash
    self.disputes[dispute_id].status = DISPUTE_RESPONDED
    log DisputeResponded(dispute_id=dispute_id, response_hash=response_hash)


@external
def resolve(dispute_id: bytes32, upheld: bool):
    assert self._has_role(msg.sender, ROLE_REGULATOR), "not a regulator"
    status: uint8 = self.disputes[dispute_id].status
    assert status != 0, "unknown dispute"
    assert (
        status == DISPUTE_OPEN or status == DISPUTE_RESPONDED or status == DISPUTE_LAPSED
    ), "dispute closed"
    if upheld:
        self.disputes[dispute_id].status = DISPUTE_UPHELD
    else:
        self.disputes[dispute_id].status = DISPUTE_REJECTED
    log DisputeResolved(dispute_id=dispute_id, upheld=upheld)
    if upheld:
        record_id: bytes32 = self.disputes[dispute_id].record_id
        header: uint256 = self.records[record_id].header
        if self._status_of(header) == RECORD_ACTIVE:
            self._revoke(record_id, header, UPHELD_DISPUTE_REASON)


@external
def lapse(dispute_id: bytes32):
    status: uint8 = self.disputes[dispute_id].status
    assert status != 0, "unknown dispute"
    assert status == DISPUTE_OPEN, "dispute not open"
    assert block.number > self.disputes[dispute_id].deadline, "deadline not passed"
    self.disputes[dispute_id].status = DISPUTE_LAPSED
    log DisputeLapsed(dispute_id=dispute_id)


@external
@view
def record(
    record_id: bytes32,
) -> (bytes32, uint8, bytes32, address, uint256, bytes32, bytes32, uint8, uint256):
    stored: StoredRecord = self.records[record_id]
    header: uint256 = stored.header
    return (
        stored.enterprise,
        self._kind_of(header),
        stored.payload_hash,
        self._publisher_of(header),
        self._version_of(header),
        stored.previous,
        stored.next,
        self._status_of(header),
        header >> PUBLISHED_AT_SHIFT,
    )


@external
@view
def record_count(enterprise: bytes32) -> uint256:
    return self.enterprise_record_counts[enterprise]


@external
@view
def record_at(enterprise: bytes32, index: uint256) -> bytes32:
    assert index < self.enterprise_record_counts[enterprise], "index out of range"
    return self.enterprise_records[enterprise][index]


@external
@view
def dispute(dispute_id: bytes32) -> (bytes32, address, bytes32, bytes32, uint8, uint256, uint256):
    stored: Dispute = self.disputes[dispute_id]
    return (
        stored.record_id,
        stored.opener,
        stored.reason_hash,
        stored.response_hash,
        stored.status,
        stored.opened_at,
        stored.deadline,
    )
