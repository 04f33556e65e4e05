"""The dashboard's control actions, available only on nodes started with `control = true`.

Node-local: change this node's outgoing links (cut, extra delay). Network-wide, from the node
that serves the page: stop or restart a node (forwarded to the supervisor of `yrdchain up
--control`, see `nodes/cluster/supervisor.py`), partition two groups of cities (every node cuts
its links to the other group), slow the links between two cities, heal everything, and start a
burst of load (`nodes/dashboard/burst.py`). Each action is announced on the stream as a
`control` event.
"""

from __future__ import annotations

from typing import Any

import httpx

from nodes.cluster.supervisor import supervisor_url
from nodes.dashboard.control_guard import CONTROL_HEADER
from nodes.dashboard.model import partition_plan, slow_plan
from nodes.runtime.node import NodeRuntime

MAX_EXTRA_DELAY_MS = 10_000.0  # a slowed link still delivers within a few round timeouts
CONTROL_TIMEOUT_S = 5.0
SUPERVISOR_TIMEOUT_S = 20.0  # a stop waits for the process to exit (up to its stop timeout)


class ControlError(Exception):
    """A control request that cannot be carried out: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def apply_links(runtime: NodeRuntime, peers: list[str] | str, cut: bool | None,
                extra_delay_ms: float | None) -> dict[str, Any]:
    """Cut or restore, slow or speed up this node's links to `peers` ("all" for every peer)."""
    links = runtime.transport.links
    names = sorted(links) if peers == "all" else list(peers)
    unknown = sorted(set(names) - set(links))
    if unknown:
        raise ControlError(422, f"{runtime.config.node_id} has no links to {unknown}")
    if extra_delay_ms is not None and not 0 <= extra_delay_ms <= MAX_EXTRA_DELAY_MS:
        raise ControlError(422, f"extra_delay_ms must be within 0..{MAX_EXTRA_DELAY_MS:.0f}")
    for name in names:
        if cut is not None:
            links[name].cut = cut
        if extra_delay_ms is not None:
            links[name].extra_delay_ms = float(extra_delay_ms)
    return {"node": runtime.config.node_id,
            "cut": sorted(peer for peer, link in links.items() if link.cut),
            "slow": {peer: link.extra_delay_ms for peer, link in links.items()
                     if link.extra_delay_ms > 0}}


def node_url(runtime: NodeRuntime, node_id: str) -> str:
    """The base URL of a node of this network (this node included)."""
    if node_id == runtime.config.node_id:
        return runtime.config.url
    url = runtime.config.peers.get(node_id)
    if url is None:
        raise ControlError(404, f"no node {node_id!r} in this network")
    return url


async def set_links_everywhere(runtime: NodeRuntime, plan: dict[str, list[str] | str],
                               cut: bool | None, extra_delay_ms: float | None) -> dict[str, Any]:
    """Apply a link change on every node of `plan` (node id -> peers); unreachable ones listed."""
    done: list[str] = []
    unreachable: list[str] = []
    async with httpx.AsyncClient(timeout=CONTROL_TIMEOUT_S) as client:
        for node_id, peers in sorted(plan.items()):
            if node_id == runtime.config.node_id:
                apply_links(runtime, peers, cut, extra_delay_ms)
                done.append(node_id)
                continue
            body: dict[str, Any] = {"peers": peers}
            if cut is not None:
                body["cut"] = cut
            if extra_delay_ms is not None:
                body["extra_delay_ms"] = extra_delay_ms
            try:
                response = await client.post(
                    f"{node_url(runtime, node_id)}/dashboard/control/links", json=body,
                    headers={CONTROL_HEADER: runtime.config.control_token})
                (done if response.status_code == 200 else unreachable).append(node_id)
            except httpx.HTTPError:
                unreachable.append(node_id)
    return {"applied": done, "unreachable": unreachable}


async def partition(runtime: NodeRuntime, group_a: list[str], group_b: list[str]) -> dict[
        str, Any]:
    """Cut every link between the nodes of two groups of cities."""
    try:
        plan = partition_plan(runtime.preset, group_a, group_b)
    except ValueError as error:
        raise ControlError(422, str(error)) from error
    result = await set_links_everywhere(runtime, dict(plan), cut=True, extra_delay_ms=None)
    runtime.emit({"type": "control", "action": "partition", "group_a": sorted(group_a),
                  "group_b": sorted(group_b), **result})
    return result


async def slow(runtime: NodeRuntime, city_a: str, city_b: str, extra_delay_ms: float) -> dict[
        str, Any]:
    """Add `extra_delay_ms` to every link between two cities, both ways (0 restores them)."""
    try:
        plan = slow_plan(runtime.preset, city_a, city_b)
    except ValueError as error:
        raise ControlError(422, str(error)) from error
    if not plan:
        raise ControlError(422, f"{city_a} has a single node: no link to slow")
    result = await set_links_everywhere(runtime, dict(plan), cut=None,
                                        extra_delay_ms=extra_delay_ms)
    runtime.emit({"type": "control", "action": "slow", "city_a": city_a, "city_b": city_b,
                  "extra_delay_ms": extra_delay_ms, **result})
    return result


async def heal(runtime: NodeRuntime) -> dict[str, Any]:
    """Restore every link of every node: no cuts, no extra delay."""
    plan: dict[str, list[str] | str] = {node.node_id: "all" for node in runtime.preset.nodes}
    result = await set_links_everywhere(runtime, plan, cut=False, extra_delay_ms=0.0)
    runtime.emit({"type": "control", "action": "heal", **result})
    return result


async def supervise(runtime: NodeRuntime, node_id: str, verb: str) -> dict[str, Any]:
    """Ask the supervisor to stop or start a node; ControlError when there is no supervisor."""
    node_url(runtime, node_id)
    if verb == "stop" and node_id == runtime.config.node_id:
        raise ControlError(409, f"{node_id} serves this page; open the dashboard of another "
                                "node to stop it")
    url = supervisor_url(runtime.config.data_dir.parent)
    if url is None:
        raise ControlError(503, "no supervisor: start the network with `yrdchain up --control`")
    runtime.emit({"type": "control", "action": verb, "target": node_id})
    try:
        async with httpx.AsyncClient(timeout=SUPERVISOR_TIMEOUT_S) as client:
            response = await client.post(f"{url}/nodes/{node_id}/{verb}")
    except httpx.HTTPError as error:
        raise ControlError(502, f"the supervisor at {url} did not answer: {error}") from error
    if response.status_code != 200:
        raise ControlError(response.status_code, response.text)
    answer: dict[str, Any] = response.json()
    return answer
