# pragma version ~=0.4.3
"""
@title Authorization
@notice Enterprise consent and the query audit trail. An enterprise signs an EIP-712 grant (or
        revocation) for one querier with its own key; the querier submits it. City nodes anchor
        the Merkle roots of their batched query logs here, in sequence, so an enterprise can
        check who queried it.
"""

interface Consortium:
    def has_role(account: address, role: uint256) -> bool: view


ROLE_PUBLISHER: constant(uint256) = 1
ROLE_QUERIER: constant(uint256) = 2
ROLE_REGULATOR: constant(uint256) = 4
ROLE_NODE: constant(uint256) = 8
ALL_ROLES: constant(uint256) = 15

KIND_COUNT: constant(uint8) = 14
BATCH_LIMIT: constant(uint256) = 64
ALL_KINDS: constant(uint256) = (1 << 14) - 1
# Half the order of secp256k1: larger `s` values are the malleable twin of a valid signature.
SECP256K1_HALF_ORDER: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)

DOMAIN_TYPE_HASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("yrdchain Authorization")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")
GRANT_TYPE_HASH: constant(bytes32) = keccak256(
    "Grant(bytes32 enterprise,address querier,uint256 scope,uint256 expiresAt,uint256 nonce)"
)
REVOCATION_TYPE_HASH: constant(bytes32) = keccak256(
    "Revocation(bytes32 enterprise,address querier,uint256 nonce)"
)


struct Grant:
    scope: uint256
    expires_at: uint256
    revoked: bool
    granted_at: uint256


struct AuditBatch:
    merkle_root: bytes32
    entry_count: uint256


event EnterpriseRegistered:
    enterprise: indexed(bytes32)
    key: address

event GrantIssued:
    enterprise: indexed(bytes32)
    querier: indexed(address)
    scope: uint256
    expires_at: uint256

event GrantRevoked:
    enterprise: indexed(bytes32)
    querier: indexed(address)

event AuditAnchored:
    node_id: indexed(bytes32)
    batch_seq: indexed(uint256)
    merkle_root: bytes32
    entry_count: uint256


consortium: public(immutable(Consortium))

enterprise_key: public(HashMap[bytes32, address])
grant_nonce_of: public(HashMap[bytes32, uint256])
last_audit_seq: public(HashMap[bytes32, uint256])
# The account that anchored a node's first batch: only it may anchor that node's later ones.
audit_account: public(HashMap[bytes32, address])

grants: HashMap[bytes32, HashMap[address, Grant]]
audit_roots: HashMap[bytes32, HashMap[uint256, bytes32]]


@deploy
def __init__(consortium_address: address):
    assert consortium_address != empty(address), "zero consortium"
    consortium = Consortium(consortium_address)


@internal
@view
def _has_role(account: address, role: uint256) -> bool:
    return staticcall consortium.has_role(account, role)


@internal
@view
def _domain_separator() -> bytes32:
    return keccak256(
        abi_encode(DOMAIN_TYPE_HASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self)
    )


@internal
@view
def _signer(struct_hash: bytes32, v: uint8, r: bytes32, s: bytes32) -> address:
    assert v == 27 or v == 28, "bad signature"
    assert convert(s, uint256) <= SECP256K1_HALF_ORDER, "bad signature"
    digest: bytes32 = keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))
    return ecrecover(digest, v, r, s)


@internal
def _use_nonce(enterprise: bytes32, grant_nonce: uint256) -> address:
    key: address = self.enterprise_key[enterprise]
    assert key != empty(address), "unknown enterprise"
    assert grant_nonce == self.grant_nonce_of[enterprise], "stale nonce"
    self.grant_nonce_of[enterprise] = grant_nonce + 1
    return key


@internal
@view
def _require_registrar() -> bool:
    # True when the sender is a regulator (who may replace a key), else it must be a publisher.
    is_regulator: bool = self._has_role(msg.sender, ROLE_REGULATOR)
    assert is_regulator or self._has_role(msg.sender, ROLE_PUBLISHER), "not publisher or regulator"
    return is_regulator


@internal
def _register(enterprise: bytes32, key: address, is_regulator: bool):
    assert enterprise != empty(bytes32), "zero enterprise"
    assert key != empty(address), "zero key"
    assert is_regulator or self.enterprise_key[enterprise] == empty(address), "key already set"
    self.enterprise_key[enterprise] = key
    log EnterpriseRegistered(enterprise=enterprise, key=key)


@internal
def _grant(
    enterprise: bytes32,
    scope: uint256,
    expires_at: uint256,
    grant_nonce: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    assert scope != 0 and scope & ALL_KINDS == scope, "bad scope"
    assert expires_at > block.timestamp, "expired"
    key: address = self._use_nonce(enterprise, grant_nonce)
    struct_hash: bytes32 = keccak256(
        abi_encode(GRANT_TYPE_HASH, enterprise, msg.sender, scope, expires_at, grant_nonce)
    )
    assert self._signer(struct_hash, v, r, s) == key, "bad signature"
    self.grants[enterprise][msg.sender] = Grant(
        scope=scope, expires_at=expires_at, revoked=False, granted_at=block.timestamp
    )
    log GrantIssued(enterprise=enterprise, querier=msg.sender, scope=scope, expires_at=expires_at)


@external
def register_enterprise(enterprise: bytes32, key: address):
    self._register(enterprise, key, self._require_registrar())


@external
def register_enterprise_batch(
    enterprises: DynArray[bytes32, BATCH_LIMIT], keys: DynArray[address, BATCH_LIMIT]
):
    """
    @notice Register up to 64 enterprises' keys at once, all or nothing (bulk loading).
    """
    is_regulator: bool = self._require_registrar()
    count: uint256 = len(enterprises)
    assert count != 0, "empty batch"
    assert len(keys) == count, "length mismatch"
    for index: uint256 in range(count, bound=BATCH_LIMIT):
        self._register(enterprises[index], keys[index], is_regulator)


@external
def grant(
    enterprise: bytes32,
    scope: uint256,
    expires_at: uint256,
    grant_nonce: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    assert self._has_role(msg.sender, ROLE_QUERIER), "not a querier"
    self._grant(enterprise, scope, expires_at, grant_nonce, v, r, s)


@external
def grant_batch(
    enterprises: DynArray[bytes32, BATCH_LIMIT],
    scopes: DynArray[uint256, BATCH_LIMIT],
    expiries: DynArray[uint256, BATCH_LIMIT],
    grant_nonces: DynArray[uint256, BATCH_LIMIT],
    vs: DynArray[uint8, BATCH_LIMIT],
    rs: DynArray[bytes32, BATCH_LIMIT],
    ss: DynArray[bytes32, BATCH_LIMIT],
):
    """
    @notice Submit up to 64 enterprises' signed grants to the sender at once, all or nothing.
    """
    assert self._has_role(msg.sender, ROLE_QUERIER), "not a querier"
    count: uint256 = len(enterprises)
    assert count != 0, "empty batch"
    assert (
        len(scopes) == count and len(expiries) == count and len(grant_nonces) == count
        and len(vs) == count and len(rs) == count and len(ss) == count
    ), "length mismatch"
    for index: uint256 in range(count, bound=BATCH_LIMIT):
        self._grant(
            enterprises[index], scopes[index], expiries[index], grant_nonces[index], vs[index],
            rs[index], ss[index]
        )


@external
def revoke_grant(
    enterprise: bytes32, querier: address, grant_nonce: uint256, v: uint8, r: bytes32, s: bytes32
):
    assert self._has_role(msg.sender, ALL_ROLES), "not an institution"
    assert self.grants[enterprise][querier].expires_at != 0, "no grant"
    assert not self.grants[enterprise][querier].revoked, "grant revoked"
    key: address = self._use_nonce(enterprise, grant_nonce)
    struct_hash: bytes32 = keccak256(
        abi_encode(REVOCATION_TYPE_HASH, enterprise, querier, grant_nonce)
    )
    assert self._signer(struct_hash, v, r, s) == key, "bad signature"
    self.grants[enterprise][querier].revoked = True
    log GrantRevoked(enterprise=enterprise, querier=querier)


@external
def anchor_audit(node_id: bytes32, batch_seq: uint256, merkle_root: bytes32, entry_count: uint256):
    assert self._has_role(msg.sender, ROLE_NODE), "not a node"
    assert node_id != empty(bytes32), "zero node id"
    assert merkle_root != empty(bytes32), "zero root"
    assert entry_count != 0, "empty batch"
    account: address = self.audit_account[node_id]
    assert account == empty(address) or account == msg.sender, "not the node's account"
    assert batch_seq == self.last_audit_seq[node_id] + 1, "out of sequence"
    if account == empty(address):
        self.audit_account[node_id] = msg.sender
    self.last_audit_seq[node_id] = batch_seq
    self.audit_roots[node_id][batch_seq] = merkle_root
    log AuditAnchored(
        node_id=node_id, batch_seq=batch_seq, merkle_root=merkle_root, entry_count=entry_count
    )


@external
@view
def grant_of(enterprise: bytes32, querier: address) -> (uint256, uint256, bool, uint256):
    stored: Grant = self.grants[enterprise][querier]
    return stored.scope, stored.expires_at, stored.revoked, stored.granted_at


@external
@view
def is_authorized(enterprise: bytes32, querier: address, kind: uint8) -> bool:
    """
    @notice True when `querier` holds an unrevoked, unexpired grant from `enterprise` whose
            scope covers `kind`, and is still an active querier.
    """
    if kind >= KIND_COUNT:
        return False
    stored: Grant = self.grants[enterprise][querier]
    if stored.revoked or block.timestamp >= stored.expires_at:
        return False
    if stored.scope & (1 << convert(kind, uint256)) == 0:
        return False
    return self._has_role(querier, ROLE_QUERIER)


@external
@view
def domain_separator() -> bytes32:
    return self._domain_separator()


@external
@view
def audit_root(node_id: bytes32, batch_seq: uint256) -> bytes32:
    return self.audit_roots[node_id][batch_seq]
