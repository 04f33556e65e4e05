"""The report route answered before the web framework: the query hot path, whole.

`NodeApp` is the node's FastAPI application with one difference: a `GET` of
`/v1/enterprises/{code}/report` goes straight to `ReportFastPath`, past FastAPI's routing, its
dependency solving and the stack of middleware, each of which wraps every `send` in a closure of
its own. The fast path does what those layers would have done for this route, once, inline:

- the header count bound (`EdgeLimits`, 431);
- the same `serve_report` the documented route calls, with the same error bodies, and an
  unexpected failure answered 500 `internal_error` and logged (`install_error_handlers`);
- no answer before the journals' group commit covers the audit entry (`DurableAnswers`);
- the latency histogram by route (`RouteMetrics`) and the line for a refused request
  (`RequestLog`, the same `RefusalLog` and budget).

The route stays in the OpenAPI document (`nodes/api/signed.py` declares it), and a client sees
the same answers either way; the in-process test client goes through here too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from chain.errors import YrdError
from nodes.api.durability import Durable
from nodes.api.http_io import error_document, error_response, json_response, scope_target
from nodes.api.limits import HTTP_LIMITS, HttpLimits
from nodes.api.request_log import RefusalLog
from nodes.api.services import NodeServices
from nodes.api.signed import REPORT_ROUTE, serve_report

LOGGER = logging.getLogger(__name__)
REPORT_PATH = re.compile(r"/v1/enterprises/([^/]+)/report")
INTERNAL_ERROR = ("internal_error", "the node failed to answer; the failure is logged")


class ReportFastPath:
    """Answers signed report requests with every edge rule of the framework path, inline."""

    def __init__(self, services: NodeServices, refusals: RefusalLog,
                 journals: Sequence[Durable], limits: HttpLimits = HTTP_LIMITS) -> None:
        self.services = services
        self.refusals = refusals
        self.journals = tuple(journals)
        self.limits = limits

    def credit_code(self, scope: Scope) -> str | None:
        """The credit code of a report request, None for any other request."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = REPORT_PATH.fullmatch(scope["path"])
        return match.group(1) if match is not None else None

    async def answer(self, credit_code: str, scope: Scope, send: Send) -> None:
        """Serve one report request on `send`."""
        started = time.perf_counter()
        raw = scope["headers"]
        if len(raw) > self.limits.max_header_count:
            response = json_response(error_document(
                "headers_too_large", f"{len(raw)} request headers; at most "
                f"{self.limits.max_header_count}", None), 431)
        else:
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
            try:
                response = await serve_report(self.services, credit_code,
                                              scope_target(scope), headers)
            except YrdError as error:
                response = error_response(error)
            except Exception:
                LOGGER.exception("unexpected failure on GET %s", scope["path"])
                response = json_response(error_document(*INTERNAL_ERROR, None), 500)
        for durable in self.journals:
            await durable()
        status = response.status_code
        await send({"type": "http.response.start", "status": status,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
        self.services.requests.observe("GET", REPORT_ROUTE, status,
                                       time.perf_counter() - started)
        if status >= 400:
            client = (scope.get("client") or ("", 0))[0]
            self.refusals.refused("GET", scope["path"], status, bytes(response.body), client)


class NodeApp(FastAPI):
    """The node's FastAPI application, with the report route's fast path in front of it."""

    fast_path: ReportFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if fast is not None:
            code = fast.credit_code(scope)
            if code is not None:
                await fast.answer(code, scope, send)
                return
        await super().__call__(scope, receive, send)
