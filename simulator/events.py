"""The kernel's events: what can happen at a virtual instant.

Each is a frozen value; `Simulation.dispatch` routes it by type. Events aimed at a node carry the
node's incarnation at the time they were scheduled, so a message or timer meant for a node that
crashed in between is dropped, as a broken connection or a dead process would drop it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chain.cities import City
from simulator.queries import QueryOutcome, QueryRequest
from simulator.scenario import Fault


@dataclass(frozen=True, slots=True)
class FaultDue:
    """A fault timeline entry comes due."""

    fault: Fault


@dataclass(frozen=True, slots=True)
class Deliver:
    """A frame reaches a node's inbox (consensus message or gossiped transaction)."""

    node_id: str
    incarnation: int
    sender: str
    channel: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class NodeWake:
    """The node's core is free: take the next item of its inbox."""

    node_id: str
    incarnation: int


@dataclass(frozen=True, slots=True)
class NodeInput:
    """A runtime's timer comes due: a consensus timeout, or the answer to BuildBlock and
    ExecuteBlock once the modelled core has done the work."""

    node_id: str
    incarnation: int
    callback: Callable[[], None]


@dataclass(frozen=True, slots=True)
class SyncReply:
    """Blocks fetched from a peer arrive, for the runtime's `reply`."""

    node_id: str
    incarnation: int
    peer: str
    frames: tuple[bytes, ...]
    reply: Callable[[list[bytes]], None]


@dataclass(frozen=True, slots=True)
class ClientSubmit:
    """A client's transaction reaches a node."""

    node_id: str
    incarnation: int
    transaction_hash: bytes


@dataclass(frozen=True, slots=True)
class QueryAtNode:
    """A bank's query reaches its node."""

    node_id: str
    incarnation: int
    request: QueryRequest


@dataclass(frozen=True, slots=True)
class QueryDone:
    """The node has every payload and answers the query."""

    node_id: str
    incarnation: int
    request: QueryRequest
    outcome: QueryOutcome


@dataclass(frozen=True, slots=True)
class TransactionArrival:
    """The next candidate arrival of the transaction process (thinning)."""


@dataclass(frozen=True, slots=True)
class QueryArrival:
    """The next candidate arrival of the query process (thinning)."""


@dataclass(frozen=True, slots=True)
class ResubmitCheck:
    """Clients resend transactions that have not committed."""


@dataclass(frozen=True, slots=True)
class AuditTick:
    """Nodes anchor their audit batches."""


@dataclass(frozen=True, slots=True)
class DisputeResponse:
    """A bureau answers a dispute that reached the chain."""

    dispute_id: bytes


@dataclass(frozen=True, slots=True)
class FloodTick:
    """A flooding validator sends its next batch of forged transactions."""

    node_id: str
    generation: int


@dataclass(frozen=True, slots=True)
class Progress:
    """Report progress and run the periodic record check."""


@dataclass(frozen=True, slots=True)
class ExternalTransaction:
    """A client of `city` sends a transaction signed outside the workload model."""

    city: City
    raw: bytes
