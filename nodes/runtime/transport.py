"""Peer transport: consensus messages and transaction gossip between city nodes.

`Transport` is the port; `nodes.runtime.peer_channels.PeerChannels` is the real one (one
mutually authenticated TLS channel per peer pair, with per-link delay injection for the regional
latency model, cuts and slow-downs), and `MemoryTransport` its in-memory twin for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

Channel = str  # "consensus" or "transactions"


class Transport(Protocol):
    """Sends frames to peers by node id."""

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """Queue a frame for one peer."""

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Queue a frame for every peer."""


@dataclass
class MemoryTransport:
    """The in-memory twin: frames go straight to a callback (tests, in-process networks)."""

    node_id: str
    peers: list[str]
    deliver: Callable[[str, str, Channel, bytes], None]
    cut: set[str] = field(default_factory=set)

    def send(self, peer: str, channel: Channel, frame: bytes) -> None:
        """Deliver a frame to one peer unless the link is cut."""
        if peer not in self.cut:
            self.deliver(self.node_id, peer, channel, frame)

    def broadcast(self, channel: Channel, frame: bytes) -> None:
        """Deliver a frame to every peer."""
        for peer in self.peers:
            self.send(peer, channel, frame)
