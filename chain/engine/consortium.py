"""`Consortium` as a native handler: membership, roles and validators (contracts/src/Consortium.vy).

Rows: members (roles, status, city, name), validators (city), and the settings `regulator` and
`validator_count`. `has_role` reads one member row: active roles are a member's roles while its
status is active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.crypto import Address
from chain.engine.abi import event_log, require
from chain.engine.context import CallContext, HandlerResult
from chain.engine.tables import (
    KEYS,
    REGULATOR_SETTING,
    VALIDATOR_COUNT_SETTING,
    TableOverlay,
)
from contracts import bindings
from contracts.events import (
    InstitutionAdmitted,
    InstitutionReinstated,
    InstitutionRemoved,
    InstitutionSuspended,
    RolesChanged,
    ValidatorAdded,
    ValidatorRemoved,
)

ACTIVE = int(bindings.InstitutionStatus.ACTIVE)
SUSPENDED = int(bindings.InstitutionStatus.SUSPENDED)
REMOVED = int(bindings.InstitutionStatus.REMOVED)
MEMBER_FIELDS = "iiib"  # roles, status, city, name (UTF-8)
ZERO_ADDRESS = b"\0" * 20
ZERO_WORD = b"\0" * 32


def load_member(tables: TableOverlay, account: Address) -> tuple[int, int, int, str]:
    """(roles, status, city, name) of an account; zeros when it was never admitted."""
    roles, status, city, name = tables.read(KEYS.member(account), MEMBER_FIELDS)
    assert isinstance(name, bytes)
    return int(roles), int(status), int(city), name.decode("utf-8")


def save_member(tables: TableOverlay, account: Address, roles: int, status: int, city: int,
                name: str) -> None:
    """Write an institution's row."""
    tables.write(KEYS.member(account), (roles, status, city, name.encode("utf-8")))


def active_roles(tables: TableOverlay, account: Address) -> int:
    """The roles of an active member, zero otherwise (the contract's `active_roles`)."""
    roles, status, _, _ = load_member(tables, account)
    return roles if status == ACTIVE else 0


def has_role(tables: TableOverlay, account: Address, role: int) -> bool:
    """True when `account` is active and holds any of the bits of `role`."""
    return active_roles(tables, account) & role != 0


def _setting(tables: TableOverlay, key: bytes) -> int:
    (value,) = tables.read(key, "i")
    return int(value)


def regulator(tables: TableOverlay) -> Address:
    """The account that deployed the Consortium (immutable)."""
    (value,) = tables.read(REGULATOR_SETTING, "b")
    assert isinstance(value, bytes)
    return value.rjust(20, b"\0") if value else ZERO_ADDRESS


def _require_regulator(tables: TableOverlay, context: CallContext) -> None:
    require(has_role(tables, context.sender, bindings.ROLE_REGULATOR), "not a regulator")


def _require_roles(roles: int) -> None:
    require(roles != 0 and roles & bindings.ALL_ROLES == roles, "bad roles")


def _require_city(city: int) -> None:
    require(bindings.FIRST_CITY <= city <= bindings.LAST_CITY, "bad city")


def _log(context: CallContext, event: bindings.Event) -> HandlerResult:
    return HandlerResult(logs=(event_log(context.addresses.consortium, event),))


def construct(tables: TableOverlay, context: CallContext) -> HandlerResult:
    """The constructor: the deployer becomes the regulator."""
    tables.write(REGULATOR_SETTING, (context.sender,))
    save_member(tables, context.sender, bindings.ROLE_REGULATOR, ACTIVE, bindings.FIRST_CITY,
                "regulator")
    return _log(context, InstitutionAdmitted(
        context.sender, bindings.ROLE_REGULATOR, bindings.FIRST_CITY, "regulator"))


def admit(tables: TableOverlay, context: CallContext, account: Address, roles: int, city: int,
          name: str) -> HandlerResult:
    """Admit a new institution with roles in a city."""
    _require_regulator(tables, context)
    require(account != ZERO_ADDRESS, "zero account")
    require(load_member(tables, account)[1] == 0, "account exists")
    _require_roles(roles)
    _require_city(city)
    save_member(tables, account, roles, ACTIVE, city, name)
    return _log(context, InstitutionAdmitted(account, roles, city, name))


def set_roles(tables: TableOverlay, context: CallContext, account: Address,
              roles: int) -> HandlerResult:
    """Change a member's roles (active or suspended)."""
    _require_regulator(tables, context)
    require(account != context.sender, "cannot change self")
    _, status, city, name = load_member(tables, account)
    require(status in (ACTIVE, SUSPENDED), "not a member")
    _require_roles(roles)
    save_member(tables, account, roles, status, city, name)
    return _log(context, RolesChanged(account, roles))


def suspend(tables: TableOverlay, context: CallContext, account: Address) -> HandlerResult:
    """Suspend an active member."""
    _require_regulator(tables, context)
    require(account != context.sender, "cannot change self")
    roles, status, city, name = load_member(tables, account)
    require(status == ACTIVE, "not active")
    save_member(tables, account, roles, SUSPENDED, city, name)
    return _log(context, InstitutionSuspended(account))


def reinstate(tables: TableOverlay, context: CallContext, account: Address) -> HandlerResult:
    """Reinstate a suspended member."""
    _require_regulator(tables, context)
    roles, status, city, name = load_member(tables, account)
    require(status == SUSPENDED, "not suspended")
    save_member(tables, account, roles, ACTIVE, city, name)
    return _log(context, InstitutionReinstated(account))


def remove(tables: TableOverlay, context: CallContext, account: Address) -> HandlerResult:
    """Remove a member for good."""
    _require_regulator(tables, context)
    require(account != context.sender, "cannot change self")
    roles, status, city, name = load_member(tables, account)
    require(status in (ACTIVE, SUSPENDED), "not a member")
    save_member(tables, account, roles, REMOVED, city, name)
    return _log(context, InstitutionRemoved(account))


def add_validator(tables: TableOverlay, context: CallContext, node_key: bytes,
                  city: int) -> HandlerResult:
    """Register a validator node's key in a city."""
    _require_regulator(tables, context)
    require(node_key != ZERO_WORD, "zero node key")
    require(validator_city(tables, node_key) == 0, "validator exists")
    _require_city(city)
    tables.write(KEYS.validator(node_key), (city,))
    tables.write(VALIDATOR_COUNT_SETTING, (_setting(tables, VALIDATOR_COUNT_SETTING) + 1,))
    return _log(context, ValidatorAdded(node_key, city))


def remove_validator(tables: TableOverlay, context: CallContext, node_key: bytes) -> HandlerResult:
    """Drop a validator node."""
    _require_regulator(tables, context)
    require(validator_city(tables, node_key) != 0, "not a validator")
    tables.write(KEYS.validator(node_key), (0,))
    tables.write(VALIDATOR_COUNT_SETTING, (_setting(tables, VALIDATOR_COUNT_SETTING) - 1,))
    return _log(context, ValidatorRemoved(node_key))


def validator_city(tables: TableOverlay, node_key: bytes) -> int:
    """The city of a validator key, zero when it is none."""
    (city,) = tables.read(KEYS.validator(node_key), "i")
    return int(city)


def views(tables: TableOverlay) -> dict[str, Callable[..., tuple[Any, ...]]]:
    """The contract's views by function name: arguments in, output values out."""
    return {
        "has_role": lambda account, role: (has_role(tables, account, role),),
        "institution": lambda account: load_member(tables, account),
        "is_validator": lambda node_key: (validator_city(tables, node_key) != 0,),
        "validator_city": lambda node_key: (validator_city(tables, node_key),),
        "validator_count": lambda: (_setting(tables, VALIDATOR_COUNT_SETTING),),
        "regulator": lambda: (regulator(tables),),
    }


TRANSACTIONS: dict[str, Callable[..., HandlerResult]] = {
    "admit": admit, "set_roles": set_roles, "suspend": suspend, "reinstate": reinstate,
    "remove": remove, "add_validator": add_validator, "remove_validator": remove_validator,
}
"""The state-changing functions by name: (tables, context, *arguments) -> result."""
