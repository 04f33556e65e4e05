"""Determinism: the same transactions cut into the same blocks give the same chain everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.crypto import keccak
from chain.genesis import EVM_ENGINE, Genesis, build_genesis
from chain.ledger import Ledger
from chain.presets import Preset
from chain.records import ALL_KINDS_SCOPE
from contracts import bindings
from tests.chain.ledger_helpers import fresh_ledger, grant_call, publication, signed_call

PUBLISHERS = ("bureau:shanghai", "bureau:nanjing", "bureau:hangzhou")
QUERIERS = ("bank:shanghai", "bank:hefei")

operations = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(0, 2), st.integers(0, 11)),
        st.tuples(st.just("correct"), st.integers(0, 2), st.integers(0, 50)),
        st.tuples(st.just("grant"), st.integers(0, 1), st.integers(0, 11)),
    ),
    min_size=1, max_size=12,
)


@dataclass
class Workload:
    """Signs a sequence of operations with consecutive nonces per sender."""

    genesis: Genesis
    nonces: dict[str, int] = field(default_factory=dict)
    published: dict[str, list[bytes]] = field(default_factory=dict)
    grant_nonces: dict[int, int] = field(default_factory=dict)

    def nonce(self, label: str) -> int:
        nonce = self.nonces.get(label, 0)
        self.nonces[label] = nonce + 1
        return nonce

    def sign(self, operation: tuple[str, int, int], position: int) -> bytes:
        kind, who, what = operation
        preset = self.genesis.preset
        if kind == "grant":
            label = QUERIERS[who]
            grant_nonce = self.grant_nonces.get(what, 0)
            self.grant_nonces[what] = grant_nonce + 1
            return grant_call(self.genesis, preset.key(preset.enterprises[what].label),
                              preset.key(label), what, self.nonce(label), grant_nonce,
                              scope=ALL_KINDS_SCOPE)
        label = PUBLISHERS[who]
        records = self.published.setdefault(label, [])
        if kind == "correct" and records:
            old = records[what % len(records)]
            new = keccak(b"correction %d" % position)
            records.append(new)
            return signed_call(self.genesis, preset.key(label), self.nonce(label),
                               "CreditRegistry",
                               bindings.encode_correct(old, new, keccak(new)))
        item = publication(self.genesis, preset.key(label), self.nonce(label),
                           enterprise_index=what % len(preset.enterprises), salt=position)
        records.append(item.record_id)
        return item.raw


@dataclass(frozen=True)
class Local4:
    """The session's genesis with a short repr (hypothesis prints the arguments it fails on)."""

    genesis: Genesis

    def __repr__(self) -> str:
        return "Local4(genesis)"


@pytest.fixture(scope="module")
def local4(genesis: Genesis) -> Local4:
    return Local4(genesis)


def build_chain(ledger: Ledger, raws: list[bytes], block_sizes: list[int]) -> None:
    for raw in raws:
        ledger.admit(raw)
    sizes = iter(block_sizes)
    while len(ledger.mempool):
        size = next(sizes, 3)
        block = ledger.build_block(ledger.head.timestamp_ms + 1_000,
                                   f"node-{ledger.head.height % 4}", limit=size)
        assert 1 <= len(block.transactions) <= size
        ledger.append_block(block)


@given(script=operations, block_sizes=st.lists(st.integers(1, 5), min_size=1, max_size=12))
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_two_ledgers_agree_at_every_height(local4: Local4, script: list[tuple[str, int, int]],
                                           block_sizes: list[int]) -> None:
    genesis = local4.genesis
    workload = Workload(genesis)
    raws = [workload.sign(operation, position) for position, operation in enumerate(script)]
    first, second = fresh_ledger(genesis), fresh_ledger(genesis)
    build_chain(first, raws, block_sizes)
    build_chain(second, raws, block_sizes)
    follower = fresh_ledger(genesis)
    assert first.head == second.head
    assert first.head.height >= 1
    committed = 0
    for height in range(1, first.head.height + 1):
        block = first.block(height)
        assert block.hash == second.block(height).hash
        assert block.header.state_root == second.block(height).header.state_root
        assert first.receipts(height) == second.receipts(height)
        follower.append_block(block)
        assert follower.head.state_root == block.header.state_root
        committed += len(block.transactions)
    assert committed == len(raws)
    assert follower.head == first.head
    for enterprise in genesis.preset.enterprises:
        code = enterprise.credit_code.code
        assert first.records_of(code) == second.records_of(code) == follower.records_of(code)


@pytest.fixture(scope="module")
def reference(preset: Preset) -> Local4:
    """local4 on the reference engine (the Vyper bytecode on py-evm)."""
    return Local4(build_genesis(preset, EVM_ENGINE))


@given(script=operations, block_sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6))
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_both_engines_give_the_same_receipts_and_index(
        local4: Local4, reference: Local4, script: list[tuple[str, int, int]],
        block_sizes: list[int]) -> None:
    """The same signed transactions cut into the same blocks: equal outcomes (not gas), equal
    record index, on the native engine and on the reference."""
    workload = Workload(local4.genesis)
    raws = [workload.sign(operation, position) for position, operation in enumerate(script)]
    native, evm = fresh_ledger(local4.genesis), fresh_ledger(reference.genesis)
    build_chain(native, raws, block_sizes)
    build_chain(evm, raws, block_sizes)
    assert native.head.height == evm.head.height
    for height in range(1, native.head.height + 1):
        assert [(r.transaction_hash, r.status, r.logs, r.revert_reason)
                for r in native.receipts(height)] == [
            (r.transaction_hash, r.status, r.logs, r.revert_reason) for r in evm.receipts(height)]
    for enterprise in local4.genesis.preset.enterprises:
        code = enterprise.credit_code.code
        assert native.records_of(code) == evm.records_of(code)
