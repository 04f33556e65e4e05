"""Relayed runtimes (each would be its own process) on one shared manual time: the coordinator
carries their frames, four real runtimes commit the same block, and a node that starts behind
catches up through relayed block fetches."""

from __future__ import annotations

from typing import Any

from chain.consensus.validators import Validator, ValidatorSet
from chain.crypto import keccak
from chain.genesis import Genesis
from chain.presets import GENESIS_TIMESTAMP_MS, Preset
from chain.storage import MemoryBlockStore
from nodes.cluster.certificates import consensus_chain_id
from nodes.runtime.config import NodeConfig
from nodes.runtime.consensus_setup import default_consensus_config
from nodes.runtime.memory_ports import DATA_DIR_NONE
from nodes.runtime.relay_network import COMMAND_STEP, RelayNetwork
from nodes.runtime.relay_ports import RelayedNode
from nodes.storage.records import MemoryRecordStore
from tests.chain.ledger_helpers import publication

DEADLINE_MS = 30_000


class DirectLink:
    """A node's command channel in this process (a node process answers the same commands)."""

    def __init__(self, node: RelayedNode) -> None:
        self.node = node
        self.answer: Any = None

    def send(self, command: tuple[Any, ...]) -> None:
        name, now, heights, *rest = command
        if name == COMMAND_STEP:
            self.answer = None, self.node.step(now, heights, rest[0])
            return
        self.node.step(now, heights, [])
        work = {"start": self.node.runtime.start,
                "submit": lambda: [self.node.runtime.submit_transaction(raw) for raw in rest[0]],
                "report": lambda: None}[name]
        self.answer = self.node.run(work)

    def receive(self) -> Any:
        return self.answer


def _node(preset: Preset, genesis: Genesis, validator_set: ValidatorSet,
          node_id: str) -> RelayedNode:
    config = NodeConfig(node_id, preset.name, DATA_DIR_NONE, "127.0.0.1", 0)
    return RelayedNode(node_id, genesis, validator_set, config, MemoryBlockStore(),
                       MemoryRecordStore(),
                       default_consensus_config(node_id, preset.node_seed(node_id), validator_set),
                       epoch_ms=GENESIS_TIMESTAMP_MS)


def _start(relay: RelayNetwork, node_ids: list[str]) -> None:
    heights = relay.heights()
    relay.ask(node_ids, lambda _: ("report", relay.now, heights))
    heights = relay.heights()
    relay.ask(node_ids, lambda _: ("start", relay.now, heights))
    assert relay.run_until(lambda: all(relay.reports[n].started for n in node_ids),
                           relay.now + DEADLINE_MS)


def test_relayed_runtimes_commit_one_block_and_a_node_behind_catches_up(
        preset: Preset, genesis: Genesis) -> None:
    validator_set = ValidatorSet(
        tuple(Validator(n.node_id, n.city.title, preset.node_public_key(n.node_id))
              for n in preset.nodes), consensus_chain_id(preset))
    nodes = {n.node_id: _node(preset, genesis, validator_set, n.node_id) for n in preset.nodes}
    relay = RelayNetwork({node_id: DirectLink(node) for node_id, node in nodes.items()})
    _start(relay, list(nodes))
    raw = publication(genesis, preset.key("bureau:shanghai"), 0).raw
    heights = relay.heights()
    relay.ask(["shanghai-1"], lambda _: ("submit", relay.now, heights, [raw]))
    assert relay.run_until(
        lambda: all(n.runtime.ledger.transaction_location(keccak(raw)) is not None
                    for n in nodes.values()), relay.now + DEADLINE_MS)
    height = nodes["shanghai-1"].runtime.ledger.head.height
    assert height >= 1
    assert len({(r.height, r.state_root) for r in relay.reports.values()}) == 1

    # hefei-1 starts again on an empty store: it fetches the blocks from the node ahead
    behind = nodes["hefei-1"] = _node(preset, genesis, validator_set, "hefei-1")
    relay.links["hefei-1"] = DirectLink(behind)
    _start(relay, ["hefei-1"])
    assert behind.runtime.ledger.head.height >= height
    assert (behind.runtime.ledger.block(height).hash
            == nodes["shanghai-1"].runtime.ledger.block(height).hash)
