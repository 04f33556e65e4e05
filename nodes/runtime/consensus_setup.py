"""How a node sets up its consensus: the timers a real node runs with, and what the runtime needs
of the state machine (`ConsensusState`, or a wrapper around it such as a byzantine fault)."""

from __future__ import annotations

from typing import Protocol

from chain.consensus import actions as consensus_actions
from chain.consensus import events as consensus_events
from chain.consensus.config import ConsensusConfig
from chain.consensus.validators import ValidatorSet

TIMEOUT_MS_ROUND_BASE = 5_000  # first round timer: every validator must execute the proposal in it
INTERVAL_MS_MIN_BLOCK = 200  # a block gathers what arrives in its first 200 ms, not 1 tx


class ConsensusMachine(Protocol):
    """What the runtime needs of the state machine (ConsensusState, or a wrapper around it)."""

    @property
    def round(self) -> int:
        """The current round."""

    def handle(self, event: consensus_events.Event) -> list[consensus_actions.Action]:
        """One event in, the actions to carry out."""


def default_consensus_config(node_id: str, seed: bytes,
                             validator_set: ValidatorSet) -> ConsensusConfig:
    """The timers a real node runs with."""
    return ConsensusConfig(node_id, seed, validator_set,
                           timeout_ms_round_base=TIMEOUT_MS_ROUND_BASE,
                           interval_ms_min_block=INTERVAL_MS_MIN_BLOCK)
