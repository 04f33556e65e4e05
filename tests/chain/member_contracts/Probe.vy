# pragma version ~=0.4.3
"""A member's contract: reads the system contracts, tries to write through them, and spins."""

interface Consortium:
    def has_role(account: address, role: uint256) -> bool: view

interface CreditRegistry:
    def publish(record_id: bytes32, enterprise: bytes32, kind: uint8, payload_hash: bytes32): nonpayable
    def record_count(enterprise: bytes32) -> uint256: view

consortium: public(address)
registry: public(address)
checks: public(uint256)


@deploy
def __init__(consortium_address: address, registry_address: address):
    self.consortium = consortium_address
    self.registry = registry_address


@external
@view
def is_publisher(account: address) -> bool:
    return staticcall Consortium(self.consortium).has_role(account, 1)


@external
@view
def records_of(enterprise: bytes32) -> uint256:
    return staticcall CreditRegistry(self.registry).record_count(enterprise)


@external
def count_if_publisher(account: address):
    if staticcall Consortium(self.consortium).has_role(account, 1):
        self.checks += 1


@external
def publish_through(enterprise: bytes32):
    extcall CreditRegistry(self.registry).publish(keccak256("r"), enterprise, 1, keccak256("p"))


@external
def spin():
    for i: uint256 in range(1000000000):
        self.checks += 1
