"""Stateful admission rules: who may call what, with which nonce.

The contracts enforce the same rules when they execute; checking them before a transaction enters
the mempool (and again, in block order, when a block is validated) gives the sender a specific
error at once and keeps blocks free of transactions that would only revert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chain.codec import Member
from chain.crypto import Address
from chain.engine.limits import MEMBER_TRANSACTION_GAS_LIMIT
from chain.errors import (
    MemberSuspended,
    MissingRole,
    NonceGap,
    NonceTooLow,
    NotAMember,
    UnsupportedTransaction,
)
from chain.genesis import ContractAddresses
from chain.transactions import AdmittedTransaction
from contracts import bindings

STATUS_ACTIVE = int(bindings.InstitutionStatus.ACTIVE)
DEPLOY_ROLES = bindings.ROLE_PUBLISHER | bindings.ROLE_REGULATOR
"""Who may deploy a contract: institutions that write on chain (ADR 0008)."""
ROLE_NAMES = {
    bindings.ROLE_PUBLISHER: "publisher",
    bindings.ROLE_QUERIER: "querier",
    bindings.ROLE_REGULATOR: "regulator",
    bindings.ROLE_NODE: "node",
}


def role_names(roles: int) -> str:
    """Human names of role bits, e.g. "publisher or regulator"."""
    names = [name for bit, name in ROLE_NAMES.items() if roles & bit]
    return " or ".join(names) or "none"


def check_call(
    admitted: AdmittedTransaction,
    members: Mapping[bytes, Member],
    contracts: ContractAddresses,
) -> bindings.ContractFunction:
    """Check that the sender may make this call: member, active, with a role the function needs.

    Returns the function called. Raises NotAMember, MemberSuspended, MissingRole or
    UnsupportedTransaction.
    """
    transaction = admitted.transaction
    contract = contracts.name_of(transaction.to)
    if contract is None:
        raise UnsupportedTransaction(
            f"transactions must call Consortium, CreditRegistry or Authorization; "
            f"0x{transaction.to.hex()} is none of them",
            field="to",
        )
    try:
        function = bindings.function_for(transaction.data)
    except bindings.UnknownFunctionError as error:
        raise UnsupportedTransaction(str(error), field="data") from error
    if function.contract != contract or not function.changes_state:
        raise UnsupportedTransaction(
            f"{contract} has no state-changing function {function.name}", field="data"
        )
    member = _active_member(admitted, members)
    if function.required_roles and not member.roles & function.required_roles:
        raise MissingRole(
            f"{function.name} needs the {role_names(function.required_roles)} role; "
            f"{member.name} holds {role_names(member.roles)}",
            field="from",
        )
    return function


def _active_member(admitted: AdmittedTransaction, members: Mapping[bytes, Member]) -> Member:
    member = members.get(admitted.sender)
    if member is None:
        raise NotAMember(
            f"0x{admitted.sender.hex()} is not an admitted institution of the consortium",
            field="from",
        )
    if member.status != STATUS_ACTIVE:
        state = {2: "suspended", 3: "removed"}.get(member.status, "inactive")
        raise MemberSuspended(f"{member.name} (0x{admitted.sender.hex()}) is {state}", "from")
    return member


def check_member_contract_call(
    admitted: AdmittedTransaction,
    members: Mapping[bytes, Member],
    is_member_contract: Callable[[Address], bool],
) -> None:
    """A deployment (publisher or regulator) or a call to a member's contract (any active
    member), within the per-transaction gas cap of members' contracts."""
    transaction = admitted.transaction
    deploying = not transaction.to
    if not deploying and not is_member_contract(transaction.to):
        raise UnsupportedTransaction(
            f"transactions call Consortium, CreditRegistry, Authorization or a contract a "
            f"member deployed; 0x{transaction.to.hex()} is none of them", field="to")
    member = _active_member(admitted, members)
    if deploying and not member.roles & DEPLOY_ROLES:
        raise MissingRole(
            f"deploying a contract needs the {role_names(DEPLOY_ROLES)} role; {member.name} "
            f"holds {role_names(member.roles)}", field="from")
    if transaction.gas > MEMBER_TRANSACTION_GAS_LIMIT:
        raise UnsupportedTransaction(
            f"gas {transaction.gas} is above {MEMBER_TRANSACTION_GAS_LIMIT}, the most a "
            "transaction to a member's contract may take (py-evm must finish a block within "
            "the consensus round)", field="gas")


def check_transaction(
    admitted: AdmittedTransaction,
    members: Mapping[bytes, Member],
    contracts: ContractAddresses,
    is_member_contract: Callable[[Address], bool] | None = None,
) -> bindings.ContractFunction | None:
    """`check_call` for the system contracts (returns the function called);
    `check_member_contract_call` for the others when the engine runs members' contracts
    (`is_member_contract` given; returns None)."""
    to = admitted.transaction.to
    if is_member_contract is not None and contracts.name_of(to) is None:
        check_member_contract_call(admitted, members, is_member_contract)
        return None
    return check_call(admitted, members, contracts)


def check_nonce(admitted: AdmittedTransaction, expected: int, max_ahead: int = 0) -> None:
    """The nonce must be `expected` (or at most `max_ahead` above it, for the mempool)."""
    nonce = admitted.nonce
    if nonce < expected:
        raise NonceTooLow(
            f"nonce {nonce} was already used; the next nonce of 0x{admitted.sender.hex()} is "
            f"{expected}",
            field="nonce",
        )
    if nonce > expected + max_ahead:
        raise NonceGap(
            f"nonce {nonce} leaves a gap; expected {expected}"
            + (f" (up to {expected + max_ahead} while earlier ones are pending)" if max_ahead
               else ""),
            field="nonce",
        )
