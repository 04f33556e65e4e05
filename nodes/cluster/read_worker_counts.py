"""How many read workers each node of a network runs: `--read-workers 2,shanghai-1=4`.

`yrdchain up`, `yrdchain k8s` and `python -m nodes.cluster.compose` take one text: a count for
every node (`2`), counts for some nodes (`shanghai-1=4,hangzhou-1=2`, the others 0), or both
(`1,shanghai-1=4`: 1 for every node, 4 for shanghai-1). Each count is 0..MAX_READ_WORKERS
(ADR 0021); a node id the preset does not have is refused when the counts meet the preset.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from chain.presets import Preset
from nodes.runtime.config import MAX_READ_WORKERS


@dataclass(frozen=True, slots=True)
class ReadWorkerCounts:
    """A default count and the nodes that differ from it."""

    default: int = 0
    by_node: tuple[tuple[str, int], ...] = ()

    def of(self, node_id: str) -> int:
        """The count of one node."""
        return dict(self.by_node).get(node_id, self.default)

    def for_preset(self, preset: Preset) -> dict[str, int]:
        """Node id -> count for every node of `preset`; ValueError for a node it lacks."""
        known = {node.node_id for node in preset.nodes}
        unknown = sorted(node_id for node_id, _ in self.by_node if node_id not in known)
        if unknown:
            raise ValueError(f"read workers for {', '.join(unknown)}: not a node of "
                             f"{preset.name}")
        return {node.node_id: self.of(node.node_id) for node in preset.nodes}

    @property
    def text(self) -> str:
        """The counts as the option takes them."""
        return ",".join([str(self.default), *(f"{node}={count}" for node, count in self.by_node)])


NO_READ_WORKERS = ReadWorkerCounts()


def parse_read_workers(text: str) -> ReadWorkerCounts:
    """`N`, `node-id=N,…` or `N,node-id=N,…`; ValueError with the reason otherwise."""
    default = 0
    by_node: dict[str, int] = {}
    for index, part in enumerate(text.split(",")):
        name, equals, value = part.strip().rpartition("=")
        if not equals and index:
            raise ValueError(f"{part!r}: only the first item may be a count for every node")
        if equals and not name:
            raise ValueError(f"{part!r}: give a node id before '='")
        count = _count(value)
        if equals:
            by_node[name] = count
        else:
            default = count
    return ReadWorkerCounts(default, tuple(sorted(by_node.items())))


def read_workers_argument(text: str) -> ReadWorkerCounts:
    """`parse_read_workers` as an argparse type."""
    try:
        return parse_read_workers(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _count(value: str) -> int:
    if not value.strip().isdigit() or not 0 <= int(value) <= MAX_READ_WORKERS:
        raise ValueError(f"read workers: {value!r} is not a count 0..{MAX_READ_WORKERS}")
    return int(value)
