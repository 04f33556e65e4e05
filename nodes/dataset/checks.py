"""A seeded sample of a loaded data set, read back through the system contracts' views.

The same checks serve both ways in: `eth_call` on a running node (`http_load`) and the ledger of
an imported node (`offline_import`). Each says what it expected, so a failed load names the
enterprise whose transaction did not take effect.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from contracts import bindings
from nodes.dataset.plan import DatasetPlan

SAMPLE_CHECKED = 40  # enterprises read back after a load


@dataclass(frozen=True, slots=True)
class ViewCheck:
    """One view call and what its answer must satisfy."""

    to: bytes
    data: bytes
    expected: str  # what must hold, for the error message
    accept: Callable[[bytes], bool]


class AlreadyLoaded(RuntimeError):
    """The network holds the data set's enterprises already; loading it again would only
    revert."""


def registered_key(plan: DatasetPlan) -> ViewCheck:
    """The key view of the data set's first enterprise (zero until the data set is loaded)."""
    first = plan.planned[0]
    return ViewCheck(plan.contracts.authorization,
                     bindings.encode_enterprise_key(first.code.to_bytes32()),
                     f"{first.code.code} has no key yet", lambda output: not any(output))


def refuse_loaded(check: ViewCheck, output: bytes) -> None:
    """AlreadyLoaded when the first enterprise of the data set has a key on chain."""
    if not check.accept(output):
        raise AlreadyLoaded(
            "the data set's enterprises are already registered in this network (loaded "
            "before?); their credit codes do not depend on the seed, so a second data set "
            "cannot go into the same network")


def sample_checks(plan: DatasetPlan, count: int = SAMPLE_CHECKED) -> list[ViewCheck]:
    """Record counts, registered keys and grants of a seeded sample of enterprises."""
    contracts = plan.contracts
    checks = []
    for item in random.Random(plan.seed).sample(plan.planned, min(count, len(plan.planned))):
        enterprise = item.code.to_bytes32()
        records, key = item.records, plan.enterprise_key(item).address
        checks.append(ViewCheck(
            contracts.registry, bindings.encode_record_count(enterprise),
            f"{item.code.code} has at least {records} records on chain",
            lambda output, records=records: bindings.decode_uint(output) >= records))
        checks.append(ViewCheck(
            contracts.authorization, bindings.encode_enterprise_key(enterprise),
            f"{item.code.code}'s key 0x{key.hex()} is registered",
            lambda output, key=key: bindings.decode_address(output) == key))
        if item.bank is not None:
            checks.append(ViewCheck(
                contracts.authorization,
                bindings.encode_grant_of(enterprise, plan.preset.key(item.bank).address),
                f"{item.code.code} granted {item.bank}",
                lambda output: bindings.decode_grant(output).granted_at != 0))
    return checks


def refuse_failed(check: ViewCheck, output: bytes) -> None:
    """RuntimeError unless the answer satisfies the check."""
    if not check.accept(output):
        raise RuntimeError(f"after the load, expected {check.expected}: it does not hold (a "
                           "transaction reverted?)")
