"""Consortium: admission, roles, suspension, removal, validators."""

from __future__ import annotations

import pytest
from deployed_chain import Chain, deploy_chain
from evm_harness import Account

from contracts.bindings import (
    ALL_ROLES,
    ROLE_NODE,
    ROLE_PUBLISHER,
    ROLE_QUERIER,
    ROLE_REGULATOR,
    InstitutionAdmitted,
    InstitutionReinstated,
    InstitutionRemoved,
    InstitutionStatus,
    InstitutionSuspended,
    InstitutionView,
    RolesChanged,
    ValidatorAdded,
    ValidatorRemoved,
    decode_address,
    decode_bool,
    decode_institution,
    decode_uint,
    encode_add_validator,
    encode_admit,
    encode_has_role,
    encode_institution,
    encode_is_validator,
    encode_regulator,
    encode_reinstate,
    encode_remove,
    encode_remove_validator,
    encode_set_roles,
    encode_suspend,
    encode_validator_city,
    encode_validator_count,
)

NODE_KEY = b"\x5a" * 32
NEWCOMER = Account.from_seed(99)


def _institution(chain: Chain, account: Account) -> InstitutionView:
    return decode_institution(chain.call(chain.consortium, encode_institution(account.address)))


def _has_role(chain: Chain, account: Account, role: int) -> bool:
    return decode_bool(chain.call(chain.consortium, encode_has_role(account.address, role)))


def _validator_count(chain: Chain) -> int:
    return decode_uint(chain.call(chain.consortium, encode_validator_count()))


def test_the_deployer_is_the_active_regulator() -> None:
    chain = deploy_chain(admit_cast=False)
    regulator = chain.cast.regulator
    assert decode_address(chain.call(chain.consortium, encode_regulator())) == regulator.address
    assert _institution(chain, regulator) == InstitutionView(
        ROLE_REGULATOR, InstitutionStatus.ACTIVE, 1, "regulator"
    )
    assert _has_role(chain, regulator, ROLE_REGULATOR)
    assert not _has_role(chain, regulator, ROLE_PUBLISHER)


def test_admit_records_the_institution_and_emits(chain: Chain) -> None:
    data = encode_admit(NEWCOMER.address, ROLE_PUBLISHER | ROLE_QUERIER, 3, "Suzhou Bank")
    outcome = chain.transact(chain.cast.regulator, chain.consortium, data)
    assert outcome.events == (
        InstitutionAdmitted(NEWCOMER.address, ROLE_PUBLISHER | ROLE_QUERIER, 3, "Suzhou Bank"),
    )
    assert _institution(chain, NEWCOMER) == InstitutionView(
        ROLE_PUBLISHER | ROLE_QUERIER, InstitutionStatus.ACTIVE, 3, "Suzhou Bank"
    )
    assert _has_role(chain, NEWCOMER, ROLE_PUBLISHER)
    assert _has_role(chain, NEWCOMER, ROLE_QUERIER)
    assert not _has_role(chain, NEWCOMER, ROLE_REGULATOR)
    assert not _has_role(chain, NEWCOMER, ROLE_NODE)
    assert _has_role(chain, NEWCOMER, ALL_ROLES)


def test_unknown_accounts_hold_no_role(chain: Chain) -> None:
    assert _institution(chain, NEWCOMER) == InstitutionView(0, InstitutionStatus.UNKNOWN, 0, "")
    assert not _has_role(chain, NEWCOMER, ALL_ROLES)


@pytest.mark.parametrize(
    ("roles", "city", "reason"),
    [
        (0, 1, "bad roles"),
        (16, 1, "bad roles"),
        (ROLE_PUBLISHER | 32, 1, "bad roles"),
        (ROLE_PUBLISHER, 0, "bad city"),
        (ROLE_PUBLISHER, 9, "bad city"),
    ],
)
def test_admit_refuses_bad_arguments(chain: Chain, roles: int, city: int, reason: str) -> None:
    data = encode_admit(NEWCOMER.address, roles, city, "x")
    assert chain.refuse(chain.cast.regulator, chain.consortium, data) == reason


def test_admit_refuses_known_and_zero_accounts(chain: Chain) -> None:
    regulator = chain.cast.regulator
    known = encode_admit(chain.cast.publisher.address, ROLE_QUERIER, 1, "again")
    assert chain.refuse(regulator, chain.consortium, known) == "account exists"
    zero = encode_admit(b"\x00" * 20, ROLE_QUERIER, 1, "nobody")
    assert chain.refuse(regulator, chain.consortium, zero) == "zero account"


@pytest.mark.parametrize("sender", ["publisher", "querier", "node_operator", "stranger"])
def test_only_a_regulator_changes_membership(chain: Chain, sender: str) -> None:
    account: Account = getattr(chain.cast, sender)
    target = chain.cast.bureau.address
    for data in (
        encode_admit(NEWCOMER.address, ROLE_PUBLISHER, 1, "x"),
        encode_set_roles(target, ROLE_QUERIER),
        encode_suspend(target),
        encode_reinstate(target),
        encode_remove(target),
        encode_add_validator(NODE_KEY, 1),
        encode_remove_validator(NODE_KEY),
    ):
        assert chain.refuse(account, chain.consortium, data) == "not a regulator"


def test_set_roles_replaces_the_bits(chain: Chain) -> None:
    publisher = chain.cast.publisher
    data = encode_set_roles(publisher.address, ROLE_QUERIER)
    outcome = chain.transact(chain.cast.regulator, chain.consortium, data)
    assert outcome.events == (RolesChanged(publisher.address, ROLE_QUERIER),)
    assert _has_role(chain, publisher, ROLE_QUERIER)
    assert not _has_role(chain, publisher, ROLE_PUBLISHER)
    assert _institution(chain, publisher).roles == ROLE_QUERIER


def test_set_roles_refusals(chain: Chain) -> None:
    regulator = chain.cast.regulator
    consortium = chain.consortium
    unknown = encode_set_roles(NEWCOMER.address, ROLE_QUERIER)
    assert chain.refuse(regulator, consortium, unknown) == "not a member"
    bad = encode_set_roles(chain.cast.publisher.address, 0)
    assert chain.refuse(regulator, consortium, bad) == "bad roles"
    own = encode_set_roles(regulator.address, ROLE_PUBLISHER)
    assert chain.refuse(regulator, consortium, own) == "cannot change self"


def test_suspension_withdraws_every_role_until_reinstated(chain: Chain) -> None:
    regulator = chain.cast.regulator
    bureau = chain.cast.bureau
    outcome = chain.transact(regulator, chain.consortium, encode_suspend(bureau.address))
    assert outcome.events == (InstitutionSuspended(bureau.address),)
    assert _institution(chain, bureau).status == InstitutionStatus.SUSPENDED
    assert not _has_role(chain, bureau, ALL_ROLES)

    changed = encode_set_roles(bureau.address, ROLE_QUERIER)
    chain.transact(regulator, chain.consortium, changed)
    assert not _has_role(chain, bureau, ROLE_QUERIER)

    outcome = chain.transact(regulator, chain.consortium, encode_reinstate(bureau.address))
    assert outcome.events == (InstitutionReinstated(bureau.address),)
    assert _institution(chain, bureau).status == InstitutionStatus.ACTIVE
    assert _has_role(chain, bureau, ROLE_QUERIER)
    assert not _has_role(chain, bureau, ROLE_PUBLISHER)


def test_suspend_and_reinstate_refusals(chain: Chain) -> None:
    regulator = chain.cast.regulator
    consortium = chain.consortium
    querier = chain.cast.querier.address
    assert chain.refuse(regulator, consortium, encode_reinstate(querier)) == "not suspended"
    chain.transact(regulator, consortium, encode_suspend(querier))
    assert chain.refuse(regulator, consortium, encode_suspend(querier)) == "not active"
    assert chain.refuse(regulator, consortium, encode_suspend(NEWCOMER.address)) == "not active"
    own = encode_suspend(regulator.address)
    assert chain.refuse(regulator, consortium, own) == "cannot change self"


def test_removal_is_final(chain: Chain) -> None:
    regulator = chain.cast.regulator
    consortium = chain.consortium
    querier = chain.cast.querier
    outcome = chain.transact(regulator, consortium, encode_remove(querier.address))
    assert outcome.events == (InstitutionRemoved(querier.address),)
    assert _institution(chain, querier).status == InstitutionStatus.REMOVED
    assert not _has_role(chain, querier, ALL_ROLES)
    assert chain.refuse(regulator, consortium, encode_reinstate(querier.address)) == (
        "not suspended"
    )
    assert chain.refuse(regulator, consortium, encode_remove(querier.address)) == "not a member"
    again = encode_admit(querier.address, ROLE_QUERIER, 1, "again")
    assert chain.refuse(regulator, consortium, again) == "account exists"
    roles = encode_set_roles(querier.address, ROLE_QUERIER)
    assert chain.refuse(regulator, consortium, roles) == "not a member"
    own = encode_remove(regulator.address)
    assert chain.refuse(regulator, consortium, own) == "cannot change self"


def test_a_suspended_regulator_cannot_act(chain: Chain) -> None:
    regulator = chain.cast.regulator
    deputy = NEWCOMER
    chain.transact(
        regulator, chain.consortium, encode_admit(deputy.address, ROLE_REGULATOR, 1, "d")
    )
    chain.transact(deputy, chain.consortium, encode_suspend(chain.cast.querier.address))
    chain.transact(regulator, chain.consortium, encode_suspend(deputy.address))
    data = encode_reinstate(chain.cast.querier.address)
    assert chain.refuse(deputy, chain.consortium, data) == "not a regulator"


def test_validators_join_and_leave(chain: Chain) -> None:
    regulator = chain.cast.regulator
    consortium = chain.consortium
    outcome = chain.transact(regulator, consortium, encode_add_validator(NODE_KEY, 4))
    assert outcome.events == (ValidatorAdded(NODE_KEY, 4),)
    assert decode_bool(chain.call(consortium, encode_is_validator(NODE_KEY)))
    assert decode_uint(chain.call(consortium, encode_validator_city(NODE_KEY))) == 4
    assert _validator_count(chain) == 1
    chain.transact(regulator, consortium, encode_add_validator(b"\x5b" * 32, 5))
    assert _validator_count(chain) == 2

    outcome = chain.transact(regulator, consortium, encode_remove_validator(NODE_KEY))
    assert outcome.events == (ValidatorRemoved(NODE_KEY),)
    assert not decode_bool(chain.call(consortium, encode_is_validator(NODE_KEY)))
    assert _validator_count(chain) == 1


def test_validator_refusals(chain: Chain) -> None:
    regulator = chain.cast.regulator
    consortium = chain.consortium
    chain.transact(regulator, consortium, encode_add_validator(NODE_KEY, 4))
    duplicate = encode_add_validator(NODE_KEY, 5)
    assert chain.refuse(regulator, consortium, duplicate) == "validator exists"
    zero = encode_add_validator(b"\x00" * 32, 5)
    assert chain.refuse(regulator, consortium, zero) == "zero node key"
    city = encode_add_validator(b"\x5c" * 32, 9)
    assert chain.refuse(regulator, consortium, city) == "bad city"
    unknown = encode_remove_validator(b"\x5c" * 32)
    assert chain.refuse(regulator, consortium, unknown) == "not a validator"
