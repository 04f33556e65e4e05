"""The teaching dashboard's HTTP routes, mounted on every node by `nodes/api/app.py`.

- `GET /dashboard`: the page (static HTML, CSS and JavaScript from
  `nodes/dashboard/static/dashboard/`, no CDN: it works offline). `?replay=URL` plays a
  recorded list of events instead of the live stream (docs/spec/dashboard-events.md);
  `?static` draws one still picture (no stream) for screenshots and printing.
- `GET /dashboard/static/fonts/{name}`: the page's own CJK webfont (nodes/dashboard/webfont.py).
- `GET /dashboard/snapshot`: the network as it is now, as a replay document (`?static`).
- `GET /dashboard/topology`: cities, nodes, proposer rotation, institutions and enterprises.
- `GET /dashboard/events`: server-sent events of the whole network, merged by this node.
- `GET /dashboard/node-events`: server-sent events of this node alone (what peers merge).
- `GET /dashboard/recent`: this node's recent events as a JSON list (a replay file).
- `POST /dashboard/control/...`: stop and restart nodes, partition cities, slow links, heal,
  start a burst — only when the node was started with `control = true` (`yrdchain up
  --control`); 403 otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from nodes.dashboard import burst as dashboard_burst
from nodes.dashboard import control as dashboard_control
from nodes.dashboard.control import ControlError
from nodes.dashboard.control_guard import ControlRefused, allowed_origins, check_control_request
from nodes.dashboard.privacy import public_event
from nodes.dashboard.snapshot import network_snapshot
from nodes.dashboard.stream import NetworkStream, node_events
from nodes.dashboard.webfont import FONT_DIRECTORY, FONT_FILES
from nodes.runtime.node import NodeRuntime

STATIC_DIRECTORY = Path(__file__).resolve().parent / "static" / "dashboard"
STATIC_FILES = frozenset({"dashboard.css", "dashboard.js", "map.js", "narrate.js"})
FONT_NAMES = frozenset({*FONT_FILES.values(), "OFL.txt"})
FONT_CACHE = "public, max-age=86400"
PRELOAD_LINK = ('  <link rel="preload" href="/dashboard/static/fonts/yrd-sans-sc-regular.woff2" '
                'as="font" type="font/woff2" crossorigin>\n')
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class LinksRequest(BaseModel):
    """Change this node's links: `peers` is a list of node ids or "all"."""

    peers: list[str] | str
    cut: bool | None = None
    extra_delay_ms: float | None = None


class PartitionRequest(BaseModel):
    """Two groups of city ids (e.g. ["shanghai", "suzhou"] and ["hefei"])."""

    group_a: list[str]
    group_b: list[str]


class SlowRequest(BaseModel):
    """Slow the links between two cities by `extra_delay_ms` each way (0 restores them)."""

    city_a: str
    city_b: str
    extra_delay_ms: float = Field(ge=0)


class BurstRequest(BaseModel):
    """A burst of `count` publishes or cross-region queries."""

    kind: str = "query"
    count: int = Field(default=20, ge=1, le=dashboard_burst.MAX_BURST)


def replay_page(document: dict[str, Any] | list[Any]) -> str:
    """The dashboard as one self-contained HTML page that replays `document` (no server needed).

    `document` is a replay: `{"topology": ..., "events": [...], "speed": 1}` or a list of events
    whose first is a `topology` event. The simulator embeds this in its report.
    """
    html = (STATIC_DIRECTORY / "index.html").read_text(encoding="utf-8")
    css = embed_fonts((STATIC_DIRECTORY / "dashboard.css").read_text(encoding="utf-8"))
    data = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    scripts = "".join(
        (STATIC_DIRECTORY / name).read_text(encoding="utf-8").replace("</script", "<\\/script")
        for name in ("map.js", "narrate.js", "dashboard.js"))
    head, _, rest = html.partition('<link rel="stylesheet" href="/dashboard/static/dashboard.css">')
    body, _, _ = rest.partition('  <script src="/dashboard/static/map.js"></script>')
    head = head.replace(PRELOAD_LINK, "")
    return (f"{head}<style>\n{css}</style>{body}"
            f"<script>window.YRD_REPLAY = {data};</script>\n"
            f"<script>\n{scripts}</script>\n</body>\n</html>\n")


def embed_fonts(css: str) -> str:
    """The stylesheet with its webfont URLs replaced by data URIs (a page with no server)."""
    for name in FONT_FILES.values():
        data = base64.b64encode((FONT_DIRECTORY / name).read_bytes()).decode("ascii")
        css = css.replace(f'url("/dashboard/static/fonts/{name}")',
                          f'url("data:font/woff2;base64,{data}")')
    return css


def _refused(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={
        "error": "control" if status != 403 else "forbidden", "message": message,
        "field": field})


def dashboard_router(runtime: NodeRuntime) -> APIRouter:
    """The dashboard routes of one node."""
    router = APIRouter(tags=["dashboard"])
    network = NetworkStream(runtime)
    bursts: set[asyncio.Task[Any]] = set()

    @router.get("/dashboard", include_in_schema=False)
    async def page() -> FileResponse:
        """The dashboard page."""
        return FileResponse(STATIC_DIRECTORY / "index.html", media_type="text/html")

    @router.get("/dashboard/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return _refused(404, f"no static file {name!r}", "name")
        media = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(STATIC_DIRECTORY / name, media_type=media)

    @router.get("/dashboard/static/fonts/{name}", include_in_schema=False)
    async def font(name: str) -> Response:
        if name not in FONT_NAMES:
            return _refused(404, f"no font file {name!r}", "name")
        media = "font/woff2" if name.endswith(".woff2") else "text/plain; charset=utf-8"
        return FileResponse(FONT_DIRECTORY / name, media_type=media,
                            headers={"cache-control": FONT_CACHE})

    @router.get("/dashboard/snapshot")
    async def snapshot() -> dict[str, Any]:
        """The network as it is now, as a replay document, for the page's `?static` mode."""
        return await network_snapshot(runtime, network.topology(), list(network.recent))

    @router.get("/dashboard/topology")
    async def topology() -> dict[str, Any]:
        """Cities, nodes, proposer rotation, institutions and enterprises of this network."""
        return network.topology()

    @router.get("/dashboard/events")
    async def events() -> StreamingResponse:
        """Server-sent events of every node of the network, merged by this node."""
        return StreamingResponse(network.stream(), media_type="text/event-stream",
                                 headers=SSE_HEADERS)

    @router.get("/dashboard/node-events")
    async def own_events() -> StreamingResponse:
        """Server-sent events of this node alone, with a status heartbeat every second."""
        return StreamingResponse(node_events(runtime), media_type="text/event-stream",
                                 headers=SSE_HEADERS)

    @router.get("/dashboard/recent")
    async def recent() -> dict[str, Any]:
        """A replay document: the topology and this node's recent events (public form: queries
        as city-to-city arcs, nodes/dashboard/privacy.py)."""
        return {"topology": network.topology(),
                "events": [public_event(event) for event in runtime.recent_events]}

    origins = allowed_origins([runtime.config.url, *runtime.config.peers.values()])

    async def control_guard(request: Request) -> None:
        """Before the body is used: control on, the token, JSON only, no foreign origin."""
        if not runtime.config.control:
            return  # `controlled` answers 403 "control is off"
        refusal = check_control_request(request.headers, runtime.config.control_token, origins)
        if refusal is not None:
            raise ControlRefused(refusal.message, refusal.field, refusal.status)

    guarded = [Depends(control_guard)]

    async def controlled(action: Any) -> JSONResponse:
        if not runtime.config.control:
            return _refused(403, "control is off: start the network with "
                                 "`yrdchain up --control`")
        try:
            return JSONResponse(await action())
        except ControlError as error:
            return _refused(error.status, error.message)

    @router.post("/dashboard/control/links", dependencies=guarded)
    async def links(request: LinksRequest) -> JSONResponse:
        """Cut or restore, slow or speed up this node's outgoing links."""
        async def act() -> dict[str, Any]:
            return dashboard_control.apply_links(runtime, request.peers, request.cut,
                                                 request.extra_delay_ms)
        return await controlled(act)

    @router.post("/dashboard/control/nodes/{node_id}/{verb}", dependencies=guarded)
    async def supervise(node_id: str, verb: str) -> JSONResponse:
        """Stop or restart a node (through the supervisor of `yrdchain up --control`)."""
        async def act() -> dict[str, Any]:
            if verb not in ("stop", "restart"):
                raise ControlError(404, "verbs: stop, restart")
            return await dashboard_control.supervise(
                runtime, node_id, "stop" if verb == "stop" else "start")
        return await controlled(act)

    @router.post("/dashboard/control/partition", dependencies=guarded)
    async def partition(request: PartitionRequest) -> JSONResponse:
        """Partition two groups of cities: every node cuts its links to the other group."""
        async def act() -> dict[str, Any]:
            return await dashboard_control.partition(runtime, request.group_a, request.group_b)
        return await controlled(act)

    @router.post("/dashboard/control/slow", dependencies=guarded)
    async def slow(request: SlowRequest) -> JSONResponse:
        """Slow every link between two cities."""
        async def act() -> dict[str, Any]:
            return await dashboard_control.slow(runtime, request.city_a, request.city_b,
                                                request.extra_delay_ms)
        return await controlled(act)

    @router.post("/dashboard/control/heal", dependencies=guarded)
    async def heal() -> JSONResponse:
        """Restore every link of every node."""
        return await controlled(lambda: dashboard_control.heal(runtime))

    @router.post("/dashboard/control/burst", dependencies=guarded)
    async def burst(request: BurstRequest) -> JSONResponse:
        """Start a burst in the background; its progress shows on the stream."""
        async def act() -> dict[str, Any]:
            if request.kind not in ("query", "publish"):
                raise ControlError(422, "kind must be query or publish")
            run = (dashboard_burst.query_burst if request.kind == "query"
                   else dashboard_burst.publish_burst)
            runtime.emit({"type": "control", "action": "burst", "kind": request.kind,
                          "count": request.count})

            async def run_and_report() -> None:
                result = await run(runtime, request.count)
                runtime.emit({"type": "control", "action": "burst_done", **result})

            task = asyncio.get_running_loop().create_task(run_and_report())
            bursts.add(task)
            task.add_done_callback(bursts.discard)
            return {"started": request.kind, "count": request.count}
        return await controlled(act)

    return router
