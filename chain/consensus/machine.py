"""The fields every layer of the consensus state machine reads, and its reporting helpers.

`ConsensusState` (state.py) is built in layers, one concept each: `MachineFields` here (what
the machine knows across heights, plus dropping and reporting), `CatchUpRules` (catch_up.py:
R12-R13), `VotingRules` (voting.py: R4-R8, R11, R16) and `MessageRules` (receiving.py: R5,
R10-R12, R15 for each incoming message); state.py adds heights, rounds, timers and the
application's events, and dispatches through the rules table (rules.py).
"""

from __future__ import annotations

from chain.consensus.actions import Action, Report, ReportKind
from chain.consensus.config import ConsensusConfig
from chain.consensus.height import HeightState
from chain.consensus.messages import Commit, Message, message_kind
from chain.consensus.persistence import PersistedState
from chain.consensus.signing import Signer
from chain.consensus.validators import ValidatorSet


class MachineFields:
    """What one validator's consensus keeps beyond a height (per-height state: `_at`)."""

    _config: ConsensusConfig
    _validators: ValidatorSet
    _node_id: str
    _signer: Signer
    _restore: PersistedState | None
    _verified: dict[bytes, bool]
    _out: list[Action]
    _replay: list[Message]
    _scheduled: set[int]
    _started: bool
    _now_ms: int
    _height: int
    _round: int
    _last_block_hash: bytes
    _last_decided: tuple[int, int, bytes] | None
    _own_last_commit: Commit | None
    _future_heights: dict[str, int]
    _sync_requested_ms: int | None
    _sync_grace_ms: int
    _sync_attempts: int
    _at: HeightState

    def _position_of(self, message: Message) -> int:
        return self._position_of_id(message.sender)

    def _position_of_id(self, node_id: str) -> int:
        position = self._validators.position(node_id)
        return len(self._validators.validators) if position is None else position

    def _report(self, kind: ReportKind, detail: str) -> None:
        self._out.append(Report(kind, detail))

    def _drop(self, reason: str, message: Message) -> None:
        self._report(
            ReportKind.DROPPED,
            f"{reason} {message_kind(message)} h={message.height} r={message.round} "
            f"from={message.sender}",
        )

    # Rules the state machine itself applies (chain/consensus/state.py); the layers above
    # call them.

    def _verify(self, message: Message) -> bool:
        """The message's signature check (cached)."""
        raise NotImplementedError

    def _enter_height(self, height: int, last_block_hash: bytes) -> None:
        """R1/R8/R14: start deciding `height`."""
        raise NotImplementedError

    def _activate(self) -> None:
        """R3: run the round timer."""
        raise NotImplementedError

    def _move_to_round(self, round_number: int, reason: str, send_round_change: bool) -> None:
        """R5/R9/R10: enter a higher round."""
        raise NotImplementedError
