"""`yrdchain keys`: the development keys of a preset, for demos, clients and load tests."""

from __future__ import annotations

from typing import Any

from chain.crypto import checksum_address
from chain.genesis import build_genesis
from chain.presets import Preset


def describe_keys(preset: Preset) -> dict[str, Any]:
    """Institutions (city, roles, address, key), enterprises and nodes of a preset."""
    genesis = build_genesis(preset)
    return {
        "preset": preset.name,
        "chain_id": preset.chain_id,
        "contracts": {
            "Consortium": checksum_address(genesis.contracts.consortium),
            "CreditRegistry": checksum_address(genesis.contracts.registry),
            "Authorization": checksum_address(genesis.contracts.authorization),
        },
        "institutions": [
            {
                "label": institution.label,
                "name": institution.name,
                "city": institution.city.value,
                "roles": institution.roles,
                "address": checksum_address(preset.key(institution.label).address),
                "private_key": "0x" + preset.key(institution.label).secret.hex(),
            }
            for institution in preset.institutions
        ],
        "enterprises": [
            {
                "label": enterprise.label,
                "name": enterprise.name,
                "credit_code": enterprise.credit_code.code,
                "city": enterprise.credit_code.city.value,
                "address": checksum_address(preset.key(enterprise.label).address),
                "private_key": "0x" + preset.key(enterprise.label).secret.hex(),
            }
            for enterprise in preset.enterprises
        ],
        "nodes": [
            {
                "node_id": node.node_id,
                "city": node.city.value,
                "public_key": preset.node_public_key(node.node_id).hex(),
            }
            for node in preset.nodes
        ],
    }
