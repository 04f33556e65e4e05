"""A chain with the three contracts deployed and a cast of accounts, for the contract tests.

The regulator deploys the contracts in genesis order and admits: two publishers (banks), a
querier, an institution that is both publisher and querier, and a city node's operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from evm_harness import DISPUTE_WINDOW_BLOCKS, Account, EvmHarness, Outcome

from contracts.bindings import (
    ROLE_NODE,
    ROLE_PUBLISHER,
    ROLE_QUERIER,
    encode_admit,
    encode_enterprise_id,
    encode_register_enterprise,
)

ENTERPRISE = encode_enterprise_id("91310000MA1FL0000N")
OTHER_ENTERPRISE = encode_enterprise_id("91320100MA1FL00013")


@dataclass(frozen=True, slots=True)
class Cast:
    """The accounts of a test chain."""

    regulator: Account
    publisher: Account
    other_publisher: Account
    querier: Account
    bureau: Account
    """Both publisher and querier."""
    node_operator: Account
    stranger: Account
    """Never admitted."""
    enterprise_key: Account
    """Signs grants and revocations for ENTERPRISE."""


@dataclass
class Chain:
    """A harness with the contracts deployed and the cast admitted."""

    harness: EvmHarness
    cast: Cast
    consortium: bytes
    registry: bytes
    authorization: bytes

    def transact(self, sender: Account, to: bytes, data: bytes) -> Outcome:
        """Apply one transaction; fail the test if it reverts."""
        outcome = self.harness.transact(sender, to, data)
        assert outcome.success, outcome.revert_reason
        return outcome

    def refuse(self, sender: Account, to: bytes, data: bytes) -> str | None:
        """Apply a transaction expected to revert; assert it changed nothing but the nonce.

        Returns the revert reason.
        """
        root_before = self.harness.state_root()
        nonce_before = self.harness.nonce_of(sender.address)
        existed = self.harness.account_exists(sender.address)
        outcome = self.harness.transact(sender, to, data)
        assert not outcome.success
        assert outcome.events == ()
        self.harness.rewind_account(sender.address, nonce_before, existed)
        assert self.harness.state_root() == root_before
        return outcome.revert_reason

    def call(self, to: bytes, data: bytes) -> bytes:
        """An eth_call."""
        return self.harness.call(to, data)


def make_cast() -> Cast:
    """Deterministic keys for every part."""
    return Cast(
        regulator=Account.from_seed(1),
        publisher=Account.from_seed(2),
        other_publisher=Account.from_seed(3),
        querier=Account.from_seed(4),
        bureau=Account.from_seed(5),
        node_operator=Account.from_seed(6),
        stranger=Account.from_seed(7),
        enterprise_key=Account.from_seed(8),
    )


def deploy_chain(admit_cast: bool = True) -> Chain:
    """Deploy the contracts as the regulator and, unless told not to, admit the cast."""
    harness = EvmHarness()
    cast = make_cast()
    consortium = harness.deploy(cast.regulator, "Consortium")
    registry = harness.deploy(cast.regulator, "CreditRegistry", consortium, DISPUTE_WINDOW_BLOCKS)
    authorization = harness.deploy(cast.regulator, "Authorization", consortium)
    chain = Chain(harness, cast, consortium, registry, authorization)
    if admit_cast:
        admissions = (
            (cast.publisher, ROLE_PUBLISHER, 1, "Bank of Shanghai"),
            (cast.other_publisher, ROLE_PUBLISHER, 2, "Bank of Nanjing"),
            (cast.querier, ROLE_QUERIER, 6, "Hangzhou Lending"),
            (cast.bureau, ROLE_PUBLISHER | ROLE_QUERIER, 8, "Hefei Credit Bureau"),
            (cast.node_operator, ROLE_NODE, 1, "Shanghai node"),
        )
        for account, roles, city, name in admissions:
            chain.transact(
                cast.regulator, consortium, encode_admit(account.address, roles, city, name)
            )
        chain.transact(
            cast.regulator,
            authorization,
            encode_register_enterprise(ENTERPRISE, cast.enterprise_key.address),
        )
    return chain
