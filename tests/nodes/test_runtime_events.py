"""The runtime's typed dashboard events and their one encoder (docs/spec/dashboard-events.md)."""

from __future__ import annotations

from nodes.runtime.events import (
    BlockCommitted,
    ConsensusNotice,
    MessageSent,
    ProposalBuilt,
    RuntimeEventKind,
    encode_runtime_event,
)


def test_each_runtime_event_encodes_to_the_stream_shape() -> None:
    assert encode_runtime_event(ProposalBuilt(3, 0, 12, "ab")) == {
        "type": "proposal", "height": 3, "round": 0, "transactions": 12, "hash": "ab"}
    assert encode_runtime_event(MessageSent("proposal", 3, 1)) == {
        "type": "proposal_sent", "kind": "proposal", "height": 3, "round": 1}
    assert encode_runtime_event(MessageSent("round_change", 3, 2)) == {
        "type": "vote", "kind": "round_change", "height": 3, "round": 2}
    assert encode_runtime_event(BlockCommitted(3, 1, "cd", "nanjing-1", 5, "ef")) == {
        "type": "commit", "height": 3, "round": 1, "hash": "cd", "proposer": "nanjing-1",
        "transactions": 5, "state_root": "ef"}
    assert encode_runtime_event(ConsensusNotice(RuntimeEventKind.ROUND_CHANGE,
                                                "timeout h=3 r=2", 2)) == {
        "type": "round_change", "detail": "timeout h=3 r=2", "round": 2}
