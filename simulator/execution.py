"""Execution sharing: honest simulated nodes pay for each distinct block execution once.

Every simulated node runs the real `Ledger`, which runs the real py-evm through
the genesis's engine (the native handlers, or py-evm). Both are pure functions of content-addressed
inputs: the parent state root names the whole parent state (trie nodes are stored by hash), and
the environment and the transactions (hash and recovered sender) are values. Fourteen nodes
executing the same block on the same parent state compute the same result, so in `shared`
mode the first node's execution is remembered and handed to the others; each still validates
the header, checks roots, admits transactions with its own signature cache and writes the
state nodes to its own store. `per-node` mode turns the sharing off (each node runs py-evm), for
runs that want to pay the full price. Results are keyed by every input; failures are never
shared.

The cache is an `Executor` (the ledger's execution port): the simulation hands it to every
node's `Ledger` in shared mode, and the default py-evm executor in per-node mode.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chain.crypto import Address
from chain.execution import (
    AccountView,
    BlockEnvironment,
    CallResult,
    ExecutionResult,
    Executor,
    PyEvmExecutor,
    StateSource,
)
from chain.transactions import AdmittedTransaction

COUNT_MAX_SHARED_BLOCKS = 256
"""Block executions remembered (a few heights of proposals across rounds)."""

COUNT_MAX_SHARED_CALLS = 4_096
"""Read-only call results remembered (consent checks at the same head repeat often)."""


@dataclass(slots=True)
class ExecutionCache:
    """Results by input, with hit and miss counts for the report; `inner` computes them."""

    blocks: OrderedDict[tuple[Any, ...], ExecutionResult] = field(default_factory=OrderedDict)
    calls: OrderedDict[tuple[Any, ...], CallResult] = field(default_factory=OrderedDict)
    block_hits: int = 0
    block_misses: int = 0
    call_hits: int = 0
    call_misses: int = 0
    inner: Executor = field(default_factory=PyEvmExecutor)

    def execute_block(self, source: StateSource, parent_state_root: bytes,
                      environment: BlockEnvironment,
                      transactions: Sequence[AdmittedTransaction]) -> ExecutionResult:
        """`chain.execution.execute_block`, remembered by its inputs."""
        key = (parent_state_root, environment,
               tuple((t.hash, t.sender) for t in transactions))
        found = self.blocks.get(key)
        if found is not None:
            self.block_hits += 1
            return found
        self.block_misses += 1
        result = self.inner.execute_block(source, parent_state_root, environment, transactions)
        self.blocks[key] = result
        if len(self.blocks) > COUNT_MAX_SHARED_BLOCKS:
            self.blocks.popitem(last=False)
        return result

    def call_contract(self, source: StateSource, state_root: bytes,
                      environment: BlockEnvironment, sender: Address, to: Address,
                      data: bytes) -> CallResult:
        """`chain.execution.call_contract`, remembered by its inputs."""
        key = (state_root, environment, sender, to, data)
        found = self.calls.get(key)
        if found is not None:
            self.call_hits += 1
            return found
        self.call_misses += 1
        result = self.inner.call_contract(source, state_root, environment, sender, to, data)
        self.calls[key] = result
        if len(self.calls) > COUNT_MAX_SHARED_CALLS:
            self.calls.popitem(last=False)
        return result

    def read_account(self, source: StateSource, state_root: bytes,
                     environment: BlockEnvironment, address: Address) -> AccountView:
        """The inner executor's answer (not remembered: it is cheap)."""
        return self.inner.read_account(source, state_root, environment, address)

    def summary(self) -> dict[str, int]:
        """Counts for metrics.json."""
        return {
            "block_executions": self.block_misses,
            "block_executions_shared": self.block_hits,
            "calls": self.call_misses,
            "calls_shared": self.call_hits,
        }
