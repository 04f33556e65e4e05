"""Who may read what: the querier role and the enterprise's consent (企业授权).

`require_role` checks the ledger's membership table (no contract call); `Grant` is an
enterprise's grant as the Authorization contract holds it and `check_grant` says why it does not
cover a query at `now_ms`; `ConsentBook` reads grants and enterprise keys with one contract call
each and caches them until a committed block's events change them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chain.codec import Member
from chain.crypto import Address
from chain.enterprise import EnterpriseId
from chain.errors import ConsentMissing, MemberSuspended, MissingRole, NotAMember
from chain.indexer import BlockEvent
from chain.ledger import Ledger
from chain.records import RecordKind
from contracts import bindings

MAX_CACHED_GRANTS = 200_000  # (enterprise, querier) pairs
MAX_CACHED_ENTERPRISE_KEYS = 200_000
ZERO_ADDRESS = b"\0" * 20
STATUS_ACTIVE = int(bindings.InstitutionStatus.ACTIVE)
KIND_NAMES = tuple(kind.name.lower() for kind in RecordKind)  # enum lookups are slow on the
KIND_NAMES_ZH = tuple(kind.label_zh for kind in RecordKind)  # hot path: tables instead


def require_role(members: Mapping[bytes, Member], account: Address, role: int,
                 what: str) -> Member:
    """The active member `account` holding `role`; NotAMember, MemberSuspended or MissingRole."""
    member = members.get(account)
    if member is None:
        raise NotAMember(f"0x{account.hex()} is not an admitted institution", field="signature")
    if member.status != STATUS_ACTIVE:
        raise MemberSuspended(f"{member.name} (0x{account.hex()}) is not active", "signature")
    if not member.roles & role:
        raise MissingRole(f"{what} needs the {_role_name(role)} role; {member.name} lacks it",
                          field="signature")
    return member


def _role_name(role: int) -> str:
    names = {bindings.ROLE_QUERIER: "querier", bindings.ROLE_REGULATOR: "regulator",
             bindings.ROLE_PUBLISHER: "publisher", bindings.ROLE_NODE: "node"}
    return " or ".join(name for bit, name in names.items() if role & bit)


@dataclass(frozen=True, slots=True)
class Grant:
    """An enterprise's grant to one querier, as the Authorization contract holds it."""

    scope: int
    expires_at_s: int
    revoked: bool
    granted_at_s: int

    def valid_at(self, now_ms: int) -> bool:
        """Issued, not revoked, and not expired at `now_ms`."""
        return self.granted_at_s > 0 and not self.revoked and now_ms < self.expires_at_s * 1000

    def kinds(self) -> list[str]:
        """The record kinds in scope, by name."""
        return [name for bit, name in enumerate(KIND_NAMES) if self.scope >> bit & 1]


def check_grant(grant: Grant, enterprise: EnterpriseId, querier: Address, now_ms: int) -> Grant:
    """The grant if it is valid at `now_ms`; ConsentMissing (403) saying why it is not."""
    if grant.granted_at_s == 0:
        raise ConsentMissing(f"enterprise {enterprise.code} has not authorized "
                             f"0x{querier.hex()}; ask it to sign a grant", field="grant")
    if grant.revoked:
        raise ConsentMissing(f"enterprise {enterprise.code} revoked its grant to "
                             f"0x{querier.hex()}", field="grant")
    if now_ms >= grant.expires_at_s * 1000:
        raise ConsentMissing(f"the grant of {enterprise.code} to 0x{querier.hex()} expired "
                             f"at {grant.expires_at_s} (Unix seconds)", field="grant")
    return grant


class ConsentBook:
    """Grants and enterprise keys read from the Authorization contract, cached until they change.

    `on_commit` drops the entries a committed block's events touch, so a cached answer is always
    the head's answer. `calls` counts contract calls made, `hits` answers from the cache.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls = 0
        self.hits = 0
        self._grants: OrderedDict[tuple[bytes, bytes], Grant] = OrderedDict()
        self._keys: OrderedDict[bytes, bytes] = OrderedDict()

    def grant(self, enterprise: bytes, querier: Address) -> Grant:
        """The grant (all zero when none was issued) of `enterprise` to `querier`."""
        key = (enterprise, querier)
        cached = self._grants.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.calls += 1
        view = bindings.decode_grant(self.ledger.call(
            self.ledger.contracts.authorization,
            bindings.encode_grant_of(enterprise, querier)).output)
        grant = Grant(view.scope, view.expires_at, view.revoked, view.granted_at)
        self._grants[key] = grant
        if len(self._grants) > MAX_CACHED_GRANTS:
            self._grants.popitem(last=False)
        return grant

    def enterprise_key(self, enterprise: bytes) -> Address | None:
        """The account whose signatures speak for the enterprise, or None if unregistered."""
        cached = self._keys.get(enterprise)
        if cached is not None:
            self.hits += 1
            return cached if cached != ZERO_ADDRESS else None
        self.calls += 1
        key = bindings.decode_address(self.ledger.call(
            self.ledger.contracts.authorization,
            bindings.encode_enterprise_key(enterprise)).output)
        self._keys[enterprise] = key
        if len(self._keys) > MAX_CACHED_ENTERPRISE_KEYS:
            self._keys.popitem(last=False)
        return key if key != ZERO_ADDRESS else None

    def require_grant(self, enterprise: EnterpriseId, querier: Address, now_ms: int) -> Grant:
        """A grant valid at `now_ms`; ConsentMissing (403) saying why there is none."""
        return check_grant(self.grant(enterprise.to_bytes32(), querier), enterprise, querier,
                           now_ms)

    def on_commit(self, events: Sequence[BlockEvent]) -> None:
        """Forget what a committed block's Authorization events (decoded once) changed."""
        authorization = self.ledger.contracts.authorization
        for item in events:
            if item.address != authorization:
                continue
            event = item.event
            if isinstance(event, bindings.GrantIssued | bindings.GrantRevoked):
                self._grants.pop((event.enterprise, event.querier), None)
            elif isinstance(event, bindings.EnterpriseRegistered):
                self._keys.pop(event.enterprise, None)
