"""Scenarios: declarative TOML manifests of a network, its workload and its faults.

Like CometBFT's e2e manifests, a scenario says what to run, not how: the preset, how long, the
network's imperfections, the institutions' traffic and a timeline of faults. `load_scenario`
parses and checks a file into frozen dataclasses; every mistake is reported with the key that
holds it. The format is documented in docs/simulator.md.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from chain.cities import City
from chain.presets import PRESETS

HOURS_PER_DAY = 24

FAULT_KINDS = (
    "crash",
    "restart",
    "partition",
    "heal",
    "delay",
    "byzantine",
    "honest",
    "clock_skew",
)
"""Kinds of fault timeline entries."""

BYZANTINE_BEHAVIOURS = ("equivocate", "invalid_votes", "forge", "flood", "silent")
"""What a byzantine validator does (see simulator/byzantine.py)."""

EXECUTION_MODES = ("shared", "per-node")
"""How block execution is paid for (see simulator/execution.py)."""

VERIFICATION_MODES = ("per-node", "shared")
"""Who verifies a consensus message's signature: every receiver (real, the default) or the
simulated transport once per broadcast (cheaper; the report says when it was on)."""

OFFICE_DAY_PROFILE = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.2, 0.45, 0.8, 1.0, 1.0, 0.95,
    0.7, 0.85, 1.0, 1.0, 0.9, 0.7, 0.4, 0.25, 0.15, 0.1, 0.08, 0.06,
)
"""Relative traffic per hour of the day: banks and bureaus work office hours."""


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the key."""


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """Link imperfections on top of the regional delay model (nodes/runtime/latency.py)."""

    jitter_ms: float = 0.5
    """Mean of the exponential extra delay of each message."""
    bandwidth_mbps: float = 1_000.0
    """Capacity of each directed link; messages queue behind each other."""
    loss: float = 0.0
    """Probability that a message is lost."""


@dataclass(frozen=True, slots=True)
class Burst:
    """A stretch of time when one kind of traffic is multiplied."""

    at_s: float
    duration_s: float
    multiplier: float
    traffic: str = "all"
    """"transactions", "queries" or "all"."""
    city: str | None = None
    """Only clients of this city, or every city when None."""


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """The institutions' traffic."""

    transactions_per_s: float = 10.0
    queries_per_s: float = 5.0
    enterprises_per_city: int = 6
    publish_share: float = 0.75
    grant_share: float = 0.15
    correct_share: float = 0.05
    dispute_share: float = 0.05
    cross_region_share: float = 0.6
    """Share of queries and grants for an enterprise of another city."""
    day_profile: tuple[float, ...] = OFFICE_DAY_PROFILE
    start_hour: float = 10.0
    """Time of day at virtual time zero."""
    day_length_s: float = 86_400.0
    """Simulated seconds one day of the profile lasts (shorter compresses a day)."""
    audit_interval_s: float = 30.0
    """How often each node anchors its batch of query logs on chain."""
    resubmit_after_s: float = 15.0
    """A client resends transactions not committed after this long."""
    bursts: tuple[Burst, ...] = ()


@dataclass(frozen=True, slots=True)
class CpuSpec:
    """The processing-time model of a node (virtual milliseconds of one core)."""

    message_ms: float = 0.1
    """Decode and verify one consensus message (Ed25519 verify is about 50 us)."""
    transaction_ms: float = 0.15
    """Admit one transaction: decode, recover the secp256k1 sender, check role and nonce."""
    block_base_ms: float = 2.0
    block_transaction_ms: float = 5.0
    """Execute a block on py-evm: a fixed part, and about 200 publishes/s of one core
    (benchmarks/README.md measures 160-190 tx/s of CPU for blocks of publishes)."""
    query_ms: float = 3.0
    """Serve one query: recover the request's signer, consent check on py-evm, index lookup."""


@dataclass(frozen=True, slots=True)
class ConsensusSpec:
    """Timers of the consensus state machine (chain/consensus/state.py names)."""

    timeout_ms_round_base: int = 1_000
    timeout_ms_round_max: int = 16_000
    interval_ms_empty_block: int = 5_000
    interval_ms_min_block: int = 200  # as the real nodes (nodes/runtime/node.py)
    delay_ms_sync_grace: int = 1_000
    interval_ms_sync_retry: int = 2_000


@dataclass(frozen=True, slots=True)
class Fault:
    """One entry of the fault timeline."""

    at_s: float
    kind: str
    node: str | None = None
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    """Partition: city names per side (unnamed cities keep every link); delay: two groups."""
    cities: tuple[str, ...] = ()
    """Delay: the two cities of the link (both directions)."""
    extra_ms: float = 0.0
    behaviour: str | None = None
    rate_per_s: float = 0.0
    """Flood: invalid transactions per second."""
    skew_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario."""

    name: str
    description: str
    preset: str
    duration_s: float
    network: NetworkSpec = field(default_factory=NetworkSpec)
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    cpu: CpuSpec = field(default_factory=CpuSpec)
    consensus: ConsensusSpec = field(default_factory=ConsensusSpec)
    faults: tuple[Fault, ...] = ()
    execution: str = "shared"
    verification: str = "per-node"
    expect_violation: bool = False
    """True for scenarios built to break safety (beyond f faults): the run should trip."""
    source: str = ""
    """The TOML text the scenario was read from (kept for replay files)."""

    def with_duration(self, duration_s: float) -> Scenario:
        """The same scenario, shortened or lengthened; faults after the end are dropped."""
        faults = tuple(f for f in self.faults if f.at_s < duration_s)
        return dataclasses.replace(self, duration_s=duration_s, faults=faults)

    def compressed(self, duration_s: float, rate_scale: float = 1.0) -> Scenario:
        """The same story in `duration_s`: fault and burst times scale with the duration.

        `rate_scale` multiplies the transaction, query and flood rates (short test runs).
        """
        factor = duration_s / self.duration_s
        faults = tuple(
            dataclasses.replace(f, at_s=f.at_s * factor, rate_per_s=f.rate_per_s * rate_scale)
            for f in self.faults
        )
        bursts = tuple(
            dataclasses.replace(b, at_s=b.at_s * factor, duration_s=b.duration_s * factor)
            for b in self.workload.bursts
        )
        workload = dataclasses.replace(
            self.workload, bursts=bursts,
            transactions_per_s=self.workload.transactions_per_s * rate_scale,
            queries_per_s=self.workload.queries_per_s * rate_scale)
        return dataclasses.replace(self, duration_s=duration_s, faults=faults,
                                   workload=workload)


def _table(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"[{key}] must be a table")
    return value


def _build(cls: type[Any], values: Mapping[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ScenarioError(f"[{where}] has unknown keys {unknown}; known: {sorted(names)}")
    converted: dict[str, Any] = {}
    for name, value in values.items():
        converted[name] = _freeze(value)
    try:
        return cls(**converted)
    except TypeError as error:
        raise ScenarioError(f"[{where}]: {error}") from error


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def parse_scenario(text: str, origin: str = "<text>") -> Scenario:
    """Parse and check scenario TOML text."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{origin}: not valid TOML: {error}") from error
    head = _table(document, "scenario")
    for key in ("name", "preset", "duration_s"):
        if key not in head:
            raise ScenarioError(f"{origin}: [scenario] needs {key!r}")
    workload_values = dict(_table(document, "workload"))
    bursts = tuple(
        _build(Burst, b, "workload.bursts") for b in workload_values.pop("bursts", [])
    )
    workload = _build(WorkloadSpec, {**workload_values, "bursts": bursts}, "workload")
    faults = tuple(
        _build(Fault, _fault_values(f), "faults") for f in document.get("faults", [])
    )
    scenario = Scenario(
        name=str(head["name"]),
        description=str(head.get("description", "")).strip(),
        preset=str(head["preset"]),
        duration_s=float(head["duration_s"]),
        network=_build(NetworkSpec, _table(document, "network"), "network"),
        workload=workload,
        cpu=_build(CpuSpec, _table(document, "cpu"), "cpu"),
        consensus=_build(ConsensusSpec, _table(document, "consensus"), "consensus"),
        faults=tuple(sorted(faults, key=lambda f: f.at_s)),
        execution=str(head.get("execution", "shared")),
        verification=str(head.get("verification", "per-node")),
        expect_violation=bool(head.get("expect_violation", False)),
        source=text,
    )
    check_scenario(scenario)
    return scenario


def _fault_values(values: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(values)
    if "groups" in result:
        result["groups"] = [list(g) for g in result["groups"]]
    return result


def check_scenario(scenario: Scenario) -> None:
    """Reject impossible values: unknown preset, nodes, cities, kinds, shares."""
    if scenario.preset not in PRESETS:
        raise ScenarioError(f"unknown preset {scenario.preset!r}; choose from {sorted(PRESETS)}")
    if scenario.duration_s <= 0:
        raise ScenarioError("duration_s must be positive")
    if scenario.execution not in EXECUTION_MODES:
        raise ScenarioError(f"execution must be one of {EXECUTION_MODES}")
    if scenario.verification not in VERIFICATION_MODES:
        raise ScenarioError(f"verification must be one of {VERIFICATION_MODES}")
    preset = PRESETS[scenario.preset]
    node_ids = {n.node_id for n in preset.nodes}
    cities = {c.value for c in City}
    workload = scenario.workload
    if len(workload.day_profile) != HOURS_PER_DAY:
        raise ScenarioError(f"workload.day_profile needs {HOURS_PER_DAY} hourly values")
    shares = (workload.publish_share, workload.grant_share, workload.correct_share,
              workload.dispute_share)
    if any(s < 0 for s in shares) or sum(shares) <= 0:
        raise ScenarioError("workload shares must be non-negative and not all zero")
    if not 0 <= scenario.network.loss < 1:
        raise ScenarioError("network.loss must be in [0, 1)")
    if scenario.network.bandwidth_mbps <= 0:
        raise ScenarioError("network.bandwidth_mbps must be positive")
    for fault in scenario.faults:
        where = f"fault at {fault.at_s}s ({fault.kind})"
        if fault.kind not in FAULT_KINDS:
            raise ScenarioError(f"{where}: kind must be one of {FAULT_KINDS}")
        for node in (*fault.nodes, *((fault.node,) if fault.node else ())):
            if node not in node_ids:
                raise ScenarioError(f"{where}: preset {preset.name} has no node {node!r}")
        for city in (*fault.cities, *(c for g in fault.groups for c in g)):
            if city not in cities:
                raise ScenarioError(f"{where}: unknown city {city!r}")
        if fault.kind in ("crash", "restart", "honest", "clock_skew") and not fault.node:
            raise ScenarioError(f"{where}: needs node")
        if fault.kind == "byzantine":
            if fault.behaviour not in BYZANTINE_BEHAVIOURS:
                raise ScenarioError(f"{where}: behaviour must be one of {BYZANTINE_BEHAVIOURS}")
            if not fault.node and not fault.nodes:
                raise ScenarioError(f"{where}: needs node or nodes")
        if fault.kind == "partition" and not fault.groups:
            raise ScenarioError(f"{where}: needs groups")
        if fault.kind == "delay" and len(fault.cities) != 2 and len(fault.groups) != 2:
            raise ScenarioError(f"{where}: needs two cities or two groups")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (a path, or the name of a shipped scenario)."""
    candidate = Path(path)
    if not candidate.exists():
        shipped = shipped_scenarios()
        name = candidate.name.removesuffix(".toml")
        if name not in shipped:
            raise ScenarioError(f"no scenario file {path}; shipped: {sorted(shipped)}")
        return parse_scenario(shipped[name], name)
    return parse_scenario(candidate.read_text(encoding="utf-8"), str(candidate))


def shipped_scenarios() -> dict[str, str]:
    """The scenarios in simulator/scenarios: name -> TOML text."""
    folder = resources.files("simulator") / "scenarios"
    found: dict[str, str] = {}
    for item in folder.iterdir():
        if item.name.endswith(".toml"):
            found[item.name.removesuffix(".toml")] = item.read_text(encoding="utf-8")
    return dict(sorted(found.items()))
