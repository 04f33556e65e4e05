"""Which nodes hold a record's payload: the origin, its city, and a designated backup.

A payload stays off chain at the node that received the publish (the origin) and is pushed to
the other nodes of its city. When the origin's city has a single node, one copy more goes to a
designated backup node in another city, so no committed record's payload is lost with one node.
The backup is the preset's choice (`Preset.payload_backups`) or, by default, the next node in
preset order that lies in another city. A backup copy counts as remote: reports still fetch from
the origin city's nodes first and ask the backup only for payloads none of them served at all.
"""

from __future__ import annotations

from chain.presets import Preset


def backup_node(preset: Preset, origin: str) -> str | None:
    """The designated backup of payloads published at `origin`; None when its city has another
    node (the city's nodes hold each other's payloads)."""
    configured = dict(preset.payload_backups)
    if origin in configured:
        return configured[origin]
    city = preset.node(origin).city
    if sum(1 for node in preset.nodes if node.city == city) > 1:
        return None
    nodes = preset.nodes
    start = next(index for index, node in enumerate(nodes) if node.node_id == origin)
    for step in range(1, len(nodes)):
        candidate = nodes[(start + step) % len(nodes)]
        if candidate.city != city:
            return candidate.node_id
    return None


def payload_holders(preset: Preset, origin: str) -> tuple[str, ...]:
    """Every node that must hold a payload published at `origin` (the origin first)."""
    city = preset.node(origin).city
    holders = [origin] + [node.node_id for node in preset.nodes
                          if node.city == city and node.node_id != origin]
    backup = backup_node(preset, origin)
    if backup is not None and backup not in holders:
        holders.append(backup)
    return tuple(holders)


def backups_of_city(preset: Preset, city_number: int) -> tuple[str, ...]:
    """The backup nodes (outside the city) of payloads whose origin is in the city."""
    found: list[str] = []
    for node in preset.nodes:
        if node.city.number != city_number:
            continue
        backup = backup_node(preset, node.node_id)
        if backup is not None and backup not in found and (
                preset.node(backup).city.number != city_number):
            found.append(backup)
    return tuple(found)


def shares_payload_duty(preset: Preset, node_id: str, peer: str) -> bool:
    """Whether two nodes hold some of the same payloads: one is a holder of the other's."""
    return (node_id in payload_holders(preset, peer)) or (peer in payload_holders(preset, node_id))
