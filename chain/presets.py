"""Network presets: the cities, validator nodes, institutions and demo enterprises of a chain.

`yrd-2020` is the chain as it went live in December 2020 (8 cities, 11 nodes), `yrd-2021` as
reported in October 2021 (8 cities, 14 nodes), `local4` a four-node network for tests.
Development keys are derived from the preset name and a label, so demos and benchmarks are
reproducible; they are published by `yrdchain keys` and must never guard anything real.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing

from chain.cities import City
from chain.crypto import PrivateKey, derive_private_key, keccak
from chain.enterprise import EnterpriseId, make_credit_code
from contracts.bindings import ROLE_NODE, ROLE_PUBLISHER, ROLE_QUERIER, ROLE_REGULATOR

GENESIS_TIMESTAMP_MS = 1_608_854_400_000  # 2020-12-25 00:00 UTC, the month the chain went live
DISPUTE_WINDOW_BLOCKS = 100


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A validator node: `shanghai-1` is the first node of Shanghai."""

    node_id: str
    city: City

    @property
    def index(self) -> int:
        """Position of the node within its city, from 1."""
        return int(self.node_id.rsplit("-", 1)[1])


@dataclass(frozen=True, slots=True)
class InstitutionSpec:
    """An institution admitted at genesis."""

    label: str
    name: str
    city: City
    roles: int


@dataclass(frozen=True, slots=True)
class EnterpriseSpec:
    """A demo enterprise with its own key (it signs grants)."""

    label: str
    name: str
    credit_code: EnterpriseId


@dataclass(frozen=True, slots=True)
class Preset:
    """Everything genesis needs to build a network."""

    name: str
    chain_id: int
    nodes: tuple[NodeSpec, ...]
    institutions: tuple[InstitutionSpec, ...]
    enterprises: tuple[EnterpriseSpec, ...]
    genesis_timestamp_ms: int = GENESIS_TIMESTAMP_MS
    dispute_window_blocks: int = DISPUTE_WINDOW_BLOCKS
    payload_backups: tuple[tuple[str, str], ...] = ()
    """(origin node id, backup node id) pairs overriding chain.payload_backup's default."""

    @property
    def cities(self) -> tuple[City, ...]:
        """The cities with at least one node, in preset order."""
        seen: list[City] = []
        for node in self.nodes:
            if node.city not in seen:
                seen.append(node.city)
        return tuple(seen)

    def key(self, label: str) -> PrivateKey:
        """The development secp256k1 key of an institution, enterprise or node operator."""
        return derive_private_key(f"yrdchain:{self.name}:{label}".encode())

    def node_seed(self, node_id: str) -> bytes:
        """The 32-byte seed of a node's Ed25519 consensus key."""
        return keccak(f"yrdchain:{self.name}:node-key:{node_id}".encode())

    def node_public_key(self, node_id: str) -> bytes:
        """The node's Ed25519 public key."""
        signing_key = nacl.signing.SigningKey(self.node_seed(node_id))
        return bytes(signing_key.verify_key)

    def node(self, node_id: str) -> NodeSpec:
        """The node with this id; KeyError if none."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"preset {self.name} has no node {node_id!r}")

    def institution(self, label: str) -> InstitutionSpec:
        """The institution with this label; KeyError if none."""
        for institution in self.institutions:
            if institution.label == label:
                return institution
        raise KeyError(f"preset {self.name} has no institution {label!r}")

    def enterprise(self, label: str) -> EnterpriseSpec:
        """The demo enterprise with this label; KeyError if none."""
        for enterprise in self.enterprises:
            if enterprise.label == label:
                return enterprise
        raise KeyError(f"preset {self.name} has no enterprise {label!r}")


def _nodes(counts: dict[City, int]) -> tuple[NodeSpec, ...]:
    return tuple(
        NodeSpec(f"{city.value}-{index}", city)
        for city, count in counts.items()
        for index in range(1, count + 1)
    )


def node_operator_label(node_id: str) -> str:
    """The label of the account a node uses to anchor its audit log."""
    return f"node:{node_id}"


_INDUSTRIES = ("Precision Machinery", "Textiles", "Logistics", "Biopharma", "Semiconductors")


def _institutions(cities: tuple[City, ...], nodes: tuple[NodeSpec, ...]) -> tuple[
        InstitutionSpec, ...]:
    found = [InstitutionSpec("regulator", "PBoC Shanghai Head Office", City.SHANGHAI,
                             ROLE_REGULATOR)]
    for city in cities:
        found.append(InstitutionSpec(f"bureau:{city.value}", f"{city.title} Credit Bureau", city,
                                     ROLE_PUBLISHER))
        found.append(InstitutionSpec(f"bank:{city.value}", f"{city.title} Commercial Bank", city,
                                     ROLE_QUERIER))
    for node in nodes:
        found.append(InstitutionSpec(node_operator_label(node.node_id),
                                     f"{node.node_id} operator", node.city, ROLE_NODE))
    return tuple(found)


def _enterprises(cities: tuple[City, ...], per_city: int) -> tuple[EnterpriseSpec, ...]:
    return tuple(
        EnterpriseSpec(
            label=f"enterprise:{city.value}:{index}",
            name=f"{city.title} {_INDUSTRIES[(city.number + index) % len(_INDUSTRIES)]} Co., Ltd.",
            credit_code=make_credit_code(city, city.number * 1000 + index),
        )
        for city in cities
        for index in range(1, per_city + 1)
    )


def _preset(name: str, chain_id: int, counts: dict[City, int]) -> Preset:
    nodes = _nodes(counts)
    cities = tuple(counts)
    return Preset(name, chain_id, nodes, _institutions(cities, nodes), _enterprises(cities, 3))


PRESETS: dict[str, Preset] = {
    "local4": _preset("local4", 7304, {
        City.SHANGHAI: 1, City.NANJING: 1, City.HANGZHOU: 1, City.HEFEI: 1,
    }),
    "yrd-2020": _preset("yrd-2020", 7320, {
        City.SHANGHAI: 2, City.NANJING: 2, City.HANGZHOU: 2, City.HEFEI: 1, City.SUZHOU: 1,
        City.CHANGZHOU: 1, City.SUQIAN: 1, City.TAIZHOU: 1,
    }),
    "yrd-2021": _preset("yrd-2021", 7321, {
        City.SHANGHAI: 3, City.NANJING: 2, City.HANGZHOU: 2, City.HEFEI: 2, City.SUZHOU: 2,
        City.CHANGZHOU: 1, City.SUQIAN: 1, City.TAIZHOU: 1,
    }),
}


def get_preset(name: str) -> Preset:
    """A preset by name; KeyError listing the names otherwise."""
    try:
        return PRESETS[name]
    except KeyError as error:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from error
