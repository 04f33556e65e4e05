"""Designated payload backups (chain.payload_backup): every payload has a second holder."""

from __future__ import annotations

import dataclasses

from chain.payload_backup import backup_node, backups_of_city, payload_holders
from chain.presets import get_preset


def test_every_local4_city_has_one_node_so_each_gets_a_backup_elsewhere() -> None:
    preset = get_preset("local4")
    for node in preset.nodes:
        backup = backup_node(preset, node.node_id)
        assert backup is not None and preset.node(backup).city != node.city
        assert payload_holders(preset, node.node_id) == (node.node_id, backup)
    last = preset.nodes[-1]
    assert backup_node(preset, last.node_id) == preset.nodes[0].node_id  # wraps around


def test_yrd_2021_backs_up_only_single_node_cities() -> None:
    preset = get_preset("yrd-2021")
    single = {city for city in preset.cities
              if sum(1 for node in preset.nodes if node.city == city) == 1}
    assert {city.value for city in single} >= {"changzhou", "suqian", "taizhou"}
    for node in preset.nodes:
        holders = payload_holders(preset, node.node_id)
        assert len(holders) >= 2, node.node_id
        backup = backup_node(preset, node.node_id)
        assert (backup is not None) == (node.city in single)


def test_a_preset_may_designate_its_backups() -> None:
    preset = get_preset("local4")
    origin, chosen = preset.nodes[0].node_id, preset.nodes[2].node_id
    custom = dataclasses.replace(preset, payload_backups=((origin, chosen),))
    assert backup_node(custom, origin) == chosen
    assert chosen in backups_of_city(custom, preset.nodes[0].city.number)
