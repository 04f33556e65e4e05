# pragma version ~=0.4.3
"""
@title Consortium
@notice Membership of the credit information chain. The regulator admits institutions with
        roles (publisher, querier, regulator, node operator), suspends, reinstates and removes
        them, and keeps the set of validator nodes. `has_role` is the one question the other
        contracts ask, so it reads a single storage slot.
"""

ROLE_PUBLISHER: constant(uint256) = 1
ROLE_QUERIER: constant(uint256) = 2
ROLE_REGULATOR: constant(uint256) = 4
ROLE_NODE: constant(uint256) = 8
ALL_ROLES: constant(uint256) = 15

STATUS_ACTIVE: constant(uint8) = 1
STATUS_SUSPENDED: constant(uint8) = 2
STATUS_REMOVED: constant(uint8) = 3

FIRST_CITY: constant(uint16) = 1
LAST_CITY: constant(uint16) = 8
NAME_LIMIT: constant(uint256) = 64


struct Institution:
    roles: uint256
    status: uint8
    city: uint16
    name: String[NAME_LIMIT]


event InstitutionAdmitted:
    account: indexed(address)
    roles: uint256
    city: uint16
    name: String[NAME_LIMIT]

event RolesChanged:
    account: indexed(address)
    roles: uint256

event InstitutionSuspended:
    account: indexed(address)

event InstitutionReinstated:
    account: indexed(address)

event InstitutionRemoved:
    account: indexed(address)

event ValidatorAdded:
    node_key: indexed(bytes32)
    city: uint16

event ValidatorRemoved:
    node_key: indexed(bytes32)


regulator: public(immutable(address))
validator_count: public(uint256)

institutions: HashMap[address, Institution]
# The roles of an active institution, zero otherwise: what `has_role` reads.
active_roles: HashMap[address, uint256]
# The city of a validator node, zero when the key is not a validator.
validator_cities: HashMap[bytes32, uint16]


@deploy
def __init__():
    regulator = msg.sender
    self.institutions[msg.sender] = Institution(
        roles=ROLE_REGULATOR, status=STATUS_ACTIVE, city=FIRST_CITY, name="regulator"
    )
    self.active_roles[msg.sender] = ROLE_REGULATOR
    log InstitutionAdmitted(
        account=msg.sender, roles=ROLE_REGULATOR, city=FIRST_CITY, name="regulator"
    )


@internal
@view
def _require_regulator():
    assert self.active_roles[msg.sender] & ROLE_REGULATOR != 0, "not a regulator"


@internal
@pure
def _require_roles(roles: uint256):
    assert roles != 0 and roles & ALL_ROLES == roles, "bad roles"


@internal
@pure
def _require_city(city: uint16):
    assert city >= FIRST_CITY and city <= LAST_CITY, "bad city"


@external
def admit(account: address, roles: uint256, city: uint16, name: String[NAME_LIMIT]):
    self._require_regulator()
    assert account != empty(address), "zero account"
    assert self.institutions[account].status == 0, "account exists"
    self._require_roles(roles)
    self._require_city(city)
    self.institutions[account] = Institution(
        roles=roles, status=STATUS_ACTIVE, city=city, name=name
    )
    self.active_roles[account] = roles
    log InstitutionAdmitted(account=account, roles=roles, city=city, name=name)


@external
def set_roles(account: address, roles: uint256):
    self._require_regulator()
    assert account != msg.sender, "cannot change self"
    status: uint8 = self.institutions[account].status
    assert status == STATUS_ACTIVE or status == STATUS_SUSPENDED, "not a member"
    self._require_roles(roles)
    self.institutions[account].roles = roles
    if status == STATUS_ACTIVE:
        self.active_roles[account] = roles
    log RolesChanged(account=account, roles=roles)


@external
def suspend(account: address):
    self._require_regulator()
    assert account != msg.sender, "cannot change self"
    assert self.institutions[account].status == STATUS_ACTIVE, "not active"
    self.institutions[account].status = STATUS_SUSPENDED
    self.active_roles[account] = 0
    log InstitutionSuspended(account=account)


@external
def reinstate(account: address):
    self._require_regulator()
    assert self.institutions[account].status == STATUS_SUSPENDED, "not suspended"
    self.institutions[account].status = STATUS_ACTIVE
    self.active_roles[account] = self.institutions[account].roles
    log InstitutionReinstated(account=account)


@external
def remove(account: address):
    self._require_regulator()
    assert account != msg.sender, "cannot change self"
    status: uint8 = self.institutions[account].status
    assert status == STATUS_ACTIVE or status == STATUS_SUSPENDED, "not a member"
    self.institutions[account].status = STATUS_REMOVED
    self.active_roles[account] = 0
    log InstitutionRemoved(account=account)


@external
def add_validator(node_key: bytes32, city: uint16):
    self._require_regulator()
    assert node_key != empty(bytes32), "zero node key"
    assert self.validator_cities[node_key] == 0, "validator exists"
    self._require_city(city)
    self.validator_cities[node_key] = city
    self.validator_count += 1
    log ValidatorAdded(node_key=node_key, city=city)


@external
def remove_validator(node_key: bytes32):
    self._require_regulator()
    assert self.validator_cities[node_key] != 0, "not a validator"
    self.validator_cities[node_key] = 0
    self.validator_count -= 1
    log ValidatorRemoved(node_key=node_key)


@external
@view
def has_role(account: address, role: uint256) -> bool:
    """
    @notice True when `account` is active and holds any of the role bits in `role`.
    """
    return self.active_roles[account] & role != 0


@external
@view
def institution(account: address) -> (uint256, uint8, uint16, String[NAME_LIMIT]):
    member: Institution = self.institutions[account]
    return member.roles, member.status, member.city, member.name


@external
@view
def is_validator(node_key: bytes32) -> bool:
    return self.validator_cities[node_key] != 0


@external
@view
def validator_city(node_key: bytes32) -> uint16:
    return self.validator_cities[node_key]
