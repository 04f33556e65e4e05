"""The coordinator of relayed nodes: carries their envelopes and moves their shared manual time.

Each node runs in its own process (`nodes.runtime.relay_ports.RelayedNode` behind a pipe). The
coordinator keeps the envelopes in transit and the nodes' last reports; one step takes the
earliest moment anything is due in the whole network (a node's timer or an envelope's arrival),
hands every node the envelopes addressed to it, and lets every node with something due run up
to that moment — at the same time, each on its own process. What a node sends in a step arrives
one link delay later, after the step, so no node is ever handed its past.

A link is anything that sends a command and receives its answer (`NodeLink`): a
`multiprocessing` connection to the node's process. A node whose process ends (its pipe closes)
stops the run with `NodeLost`, naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nodes.runtime.relay_ports import Envelope, NodeReport

COMMAND_STEP = "step"


class NodeLost(RuntimeError):
    """A node's process ended or failed a command."""


class NodeLink(Protocol):
    """A command channel to one node's process."""

    def send(self, command: tuple[Any, ...]) -> None:
        """Send a command (NodeLost if the process is gone)."""

    def receive(self) -> Any:
        """The answer to the last command (NodeLost if the process is gone)."""


@dataclass
class RelayNetwork:
    """Relayed nodes on one shared manual time."""

    links: dict[str, NodeLink]
    now: float = 0.0
    reports: dict[str, NodeReport] = field(default_factory=dict)
    in_transit: list[Envelope] = field(default_factory=list)

    def heights(self) -> dict[str, int]:
        """Every node's head height as last reported."""
        return {node_id: report.height for node_id, report in self.reports.items()}

    def absorb(self, report: NodeReport) -> None:
        """Keep a node's report and take over what it sent."""
        self.reports[report.node_id] = report
        self.in_transit.extend(report.outbox)

    def ask(self, node_ids: list[str], command: Callable[[str], tuple[Any, ...]]) -> list[Any]:
        """Send `command(node_id)` to each node (they work at once), then collect the answers
        (each `(result, report)`) in order; the results."""
        for node_id in node_ids:
            self.links[node_id].send(command(node_id))
        results = []
        for node_id in node_ids:
            result, report = self.links[node_id].receive()
            self.absorb(report)
            results.append(result)
        return results

    def run_until(self, done: Callable[[], bool], limit_ms: float) -> bool:
        """Step the network until `done()` or nothing is due before `limit_ms`; whether done."""
        while not done():
            due = [report.next_ms for report in self.reports.values()
                   if report.next_ms is not None]
            due.extend(envelope[1] for envelope in self.in_transit)
            if not due or min(due) > limit_ms:
                return done()
            self.now = max(self.now, min(due))
            incoming: dict[str, list[Envelope]] = {}
            for envelope in self.in_transit:
                incoming.setdefault(envelope[0], []).append(envelope)
            self.in_transit = []
            stepped = [node_id for node_id, report in self.reports.items()
                       if node_id in incoming or (report.next_ms is not None
                                                  and report.next_ms <= self.now)]
            self.ask(stepped, _step_command(self.now, self.heights(), incoming))
        return True


def _step_command(now: float, heights: dict[str, int], incoming: dict[str, list[Envelope]]
                  ) -> Callable[[str], tuple[Any, ...]]:
    return lambda node_id: (COMMAND_STEP, now, heights, incoming.get(node_id, []))
