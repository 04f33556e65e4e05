"""A simulated machine that runs the node's own runtime on virtual time.

`SimulatedHost` is the hardware and the process slot of one city node: its block store and
record store (they survive a crash, as LMDB does), one CPU core with a cost model (`CpuSpec`),
a clock that may be skewed, and the incarnation of the node process. The process itself is the
real `nodes.runtime.node.NodeRuntime`, plugged into the simulator's ports defined here: virtual
time, timers on the kernel, the simulated network as its `Transport`, block fetches over the
simulated network, and a `Processor` that queues work on the modelled core. A crash halts and
drops the runtime (state machine, ledger object, mempool); a restart builds a new one over the
same stores, which catches up and starts consensus exactly as a real process does.

A byzantine fault wraps the runtime's state machine (`Misbehaving`): the honest actions go
through a behaviour that rewrites them; the runtime itself has no fault hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chain.cities import City
from chain.consensus import actions as consensus_actions
from chain.consensus import events as consensus_events
from chain.consensus.state import ConsensusConfig
from chain.consensus.validators import ValidatorSet
from chain.execution import Executor
from chain.genesis import Genesis
from chain.ledger import CommittedBlock, Ledger
from chain.storage import MemoryBlockStore
from chain.transactions import AdmittedTransaction
from nodes.runtime.config import NodeConfig
from nodes.runtime.consensus_setup import ConsensusMachine
from nodes.runtime.node import NodeRuntime
from nodes.runtime.ports import BlocksReply, Channel, PeerReply, RuntimePorts
from nodes.storage.records import MemoryRecordStore
from simulator.scenario import CpuSpec

Behaviour = Callable[[list[consensus_actions.Action]], list[consensus_actions.Action]]
"""Rewrites the honest actions of a byzantine node (simulator.byzantine_actions shape)."""

DATA_DIR_SIMULATED = Path("/nonexistent/simulated-node")
"""A simulated node keeps nothing on disk."""


class Carrier(Protocol):
    """What a host needs from the simulation around it: the kernel, the network, the watchers."""

    @property
    def executor(self) -> Executor | None:
        """The ledger's execution port (None: py-evm per node)."""

    def now_ms(self) -> float:
        """Virtual time."""

    def send(self, host: SimulatedHost, peer: str | None, channel: str, frame: bytes,
             at_ms: float) -> None:
        """Send a frame to one peer (or every peer when None), leaving at `at_ms`."""

    def call_at(self, host: SimulatedHost, at_ms: float, callback: Callable[[], None]) -> None:
        """Run `callback` at virtual `at_ms` if the host's incarnation is still the same."""

    def find_ahead(self, host: SimulatedHost, height: int) -> str | None:
        """The reachable live peer furthest ahead of `height`."""

    def fetch_blocks(self, host: SimulatedHost, peer: str, from_height: int, limit: int,
                     reply: BlocksReply) -> None:
        """Blocks of `peer` over the simulated network; the reply comes back as an event."""

    def block_appended(self, host: SimulatedHost, committed: CommittedBlock, round_number: int,
                       synced: bool, previous_hash: bytes) -> None:
        """A block was appended at this host on top of `previous_hash`."""

    def reported(self, host: SimulatedHost, report: consensus_actions.Report) -> None:
        """The state machine reported something."""

    def consensus_started(self, host: SimulatedHost) -> None:
        """The host's runtime finished catching up."""


@dataclass
class Misbehaving:
    """A state machine whose actions go through a byzantine behaviour."""

    honest: ConsensusMachine
    behaviour: Behaviour

    @property
    def round(self) -> int:
        """The wrapped machine's round."""
        return self.honest.round

    def handle(self, event: consensus_events.Event) -> list[consensus_actions.Action]:
        """The honest actions, rewritten."""
        return self.behaviour(self.honest.handle(event))


class SimulatedHost:
    """One validator's machine: stores, a modelled core, a clock, and its current runtime."""

    def __init__(self, node_id: str, city: City, genesis: Genesis, validator_set: ValidatorSet,
                 config: ConsensusConfig, cpu: CpuSpec, carrier: Carrier) -> None:
        self.node_id = node_id
        self.city = city
        self.genesis = genesis
        self.validator_set = validator_set
        self.config = config
        self.cpu = cpu
        self.carrier = carrier
        self.store = MemoryBlockStore()
        self.records = MemoryRecordStore()
        self.runtime: NodeRuntime | None = None
        self.incarnation = 0
        self.busy_until_ms = 0.0
        self.skew_ms = 0.0
        self.behaviour: Behaviour | None = None
        self.catching_up = False

    # --- life cycle --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the node process is up."""
        return self.runtime is not None

    @property
    def started(self) -> bool:
        """Whether its consensus runs (catch-up is over)."""
        return self.runtime is not None and self.runtime.started

    @property
    def syncing(self) -> bool:
        """Whether it is fetching blocks from a peer."""
        return self.runtime is not None and self.runtime.syncing

    @property
    def ledger(self) -> Ledger | None:
        """The running process's ledger."""
        return None if self.runtime is None else self.runtime.ledger

    def boot(self) -> None:
        """Start (or restart) the process from the stores: catch-up, then consensus."""
        self.incarnation += 1
        self.busy_until_ms = self.carrier.now_ms()
        ports = RuntimePorts(
            clock=SkewedClock(self), timers=KernelTimers(self), transport=SimulatedLinks(self),
            peer_blocks=SimulatedPeerBlocks(self), block_store=self.store,
            record_store=self.records, processor=SimulatedCore(self),
            observer=HostObserver(self), executor=self.carrier.executor,
            adaptive_proposals=False)
        config = NodeConfig(self.node_id, self.genesis.preset.name, DATA_DIR_SIMULATED,
                            "127.0.0.1", 0)
        self.runtime = NodeRuntime(config, self.genesis, self.validator_set, ports, self.config)
        if self.behaviour is not None:
            self.misbehave(self.behaviour)
        self.runtime.start()

    def crash(self) -> None:
        """Stop: the runtime (state machine, ledger object, mempool) is gone; the stores stay."""
        self.incarnation += 1
        if self.runtime is not None:
            self.runtime.halt()
        self.runtime = None

    def misbehave(self, behaviour: Behaviour | None) -> None:
        """Rewrite (or, with None, stop rewriting) the state machine's actions."""
        self.behaviour = behaviour
        runtime = self.runtime
        if runtime is None:
            return
        honest = runtime.consensus
        while isinstance(honest, Misbehaving):
            honest = honest.honest
        runtime.consensus = honest if behaviour is None else Misbehaving(honest, behaviour)

    # --- the modelled core and clock ---------------------------------------------------------

    def local_ms(self) -> int:
        """This node's clock: virtual time plus its skew."""
        return int(self.carrier.now_ms() + self.skew_ms)

    def busy(self) -> bool:
        """Whether the node's core is still working on earlier input."""
        return self.busy_until_ms > self.carrier.now_ms()

    def spend(self, cost_ms: float) -> float:
        """Occupy the core for `cost_ms` from now (or from the end of earlier work)."""
        self.busy_until_ms = max(self.busy_until_ms, self.carrier.now_ms()) + cost_ms
        return self.busy_until_ms

    def block_cost_ms(self, transactions: int) -> float:
        """Modelled execution time of a block of `transactions`."""
        return self.cpu.block_base_ms + self.cpu.block_transaction_ms * transactions

    def submit_transaction(self, raw: bytes) -> AdmittedTransaction:
        """A client's transaction, handed to the runtime's own admission."""
        assert self.runtime is not None
        return self.runtime.submit_transaction(raw)


@dataclass
class SkewedClock:
    """Virtual time plus the host's skew."""

    host: SimulatedHost

    def now_ms(self) -> int:
        """Local milliseconds."""
        return self.host.local_ms()

    def chain_ms(self) -> int:
        """Local milliseconds counted from the genesis timestamp: chain time starts at genesis
        when virtual time starts at 0 (consensus timers keep running on `now_ms`)."""
        return self.host.genesis.preset.genesis_timestamp_ms + self.host.local_ms()

    def monotonic_s(self) -> float:
        """Virtual seconds."""
        return self.host.carrier.now_ms() / 1000


@dataclass
class KernelTimers:
    """Timers as kernel events for the host's current incarnation."""

    host: SimulatedHost

    def call_at(self, at_ms: float, callback: Callable[[], None]) -> None:
        """At local `at_ms`, i.e. virtual `at_ms - skew`."""
        self.host.carrier.call_at(self.host, at_ms - self.host.skew_ms, callback)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Now, after what is already due."""
        self.host.carrier.call_at(self.host, self.host.carrier.now_ms(), callback)

    def cancel_all(self) -> None:
        """Nothing: a crash bumps the incarnation, and stale events are dropped."""


@dataclass
class SimulatedLinks:
    """The simulated network as the runtime's transport; frames leave when the core is free."""

    host: SimulatedHost

    def _departure_ms(self) -> float:
        return max(self.host.busy_until_ms, self.host.carrier.now_ms())

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """One peer."""
        self.host.carrier.send(self.host, peer, channel, frame, self._departure_ms())

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Every peer."""
        self.host.carrier.send(self.host, None, channel, frame, self._departure_ms())

    def connected_peers(self) -> list[str]:
        """Every validator but this one (the network model decides what arrives)."""
        return [v.node_id for v in self.host.validator_set.validators
                if v.node_id != self.host.node_id]


@dataclass
class SimulatedPeerBlocks:
    """Block fetches over the simulated network."""

    host: SimulatedHost

    def find_ahead(self, height: int, reply: PeerReply) -> None:
        """Answered at once from the simulation's view of the reachable peers."""
        peer = self.host.carrier.find_ahead(self.host, height)
        self.host.catching_up = peer is not None
        reply(peer)

    def fetch(self, peer: str, from_height: int, limit: int, reply: BlocksReply) -> None:
        """A request and its reply over the simulated links."""
        self.host.carrier.fetch_blocks(self.host, peer, from_height, limit, reply)


@dataclass
class SimulatedCore:
    """One modelled CPU core per node: work queues behind earlier work."""

    host: SimulatedHost

    def spend_block(self, transactions: int) -> float | None:
        """Local time at which the block's work is done."""
        return self.host.spend(self.host.block_cost_ms(transactions)) + self.host.skew_ms

    def spend_message(self) -> None:
        """A consensus message's decode and checks."""
        self.host.spend(self.host.cpu.message_ms)

    def spend_transaction(self) -> None:
        """A transaction's admission."""
        self.host.spend(self.host.cpu.transaction_ms)


@dataclass
class HostObserver:
    """Forwards what the runtime reports to the simulation, naming the host."""

    host: SimulatedHost

    def block_appended(self, committed: CommittedBlock, round_number: int, synced: bool,
                       previous_hash: bytes) -> None:
        """To the invariant checker, metrics and clients."""
        self.host.carrier.block_appended(self.host, committed, round_number, synced,
                                         previous_hash)

    def reported(self, report: consensus_actions.Report) -> None:
        """To the metrics."""
        self.host.carrier.reported(self.host, report)

    def consensus_started(self) -> None:
        """To the invariant checker."""
        self.host.carrier.consensus_started(self.host)
