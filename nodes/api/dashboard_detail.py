"""The dashboard's full detail for a signed regulator: `GET /v1/dashboard/recent` and the live
stream `GET /v1/dashboard/events`.

The public dashboard shows queries as city-to-city arcs only (`nodes/dashboard/privacy.py`).
A regulator signs this request (the scheme of `nodes/query/request_signing.py`, as for the
audit trail) and receives this node's recent events with querier, enterprise and request key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from chain.errors import Forbidden
from nodes.api.http_io import json_response
from nodes.api.rest import ERROR_RESPONSES
from nodes.api.services import NodeServices, wall_clock_ms
from nodes.api.signed import SIGNED_HEADERS, is_regulator, observed, verified_signer
from nodes.dashboard.stream import node_events


def dashboard_detail_router(services: NodeServices) -> APIRouter:
    """The regulator's view of the dashboard's recent events."""
    router = APIRouter(responses=ERROR_RESPONSES)
    runtime = services.runtime

    @router.get("/v1/dashboard/recent", tags=["queries"], openapi_extra=SIGNED_HEADERS)
    async def recent_in_full(request: Request) -> Response:
        """This node's recent dashboard events in full (queries with querier and enterprise).

        Signed by a regulator; anyone else reads `/dashboard/recent` (queries as arcs only).
        """
        with observed(services, "dashboard_detail"):
            signer = verified_signer(services, request, wall_clock_ms())
            if not is_regulator(services, signer):
                raise Forbidden("the dashboard's full detail is readable by a regulator only",
                                field="x-yrd-signature")
            return json_response({"node_id": runtime.config.node_id,
                                  "events": list(runtime.recent_events)})

    @router.get("/v1/dashboard/events", tags=["queries"], openapi_extra=SIGNED_HEADERS)
    async def events_in_full(request: Request) -> StreamingResponse:
        """This node's live dashboard events in full (server-sent events), for a regulator.

        The signature is checked once, when the stream opens.
        """
        with observed(services, "dashboard_detail"):
            signer = verified_signer(services, request, wall_clock_ms())
            if not is_regulator(services, signer):
                raise Forbidden("the dashboard's full detail is readable by a regulator only",
                                field="x-yrd-signature")
        return StreamingResponse(node_events(runtime, public=False),
                                 media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})

    return router
