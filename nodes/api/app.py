"""The node's HTTP application: `create_app(runtime)` (no module-level app).

Validators talk over the authenticated peer channel (`nodes.runtime.peer_channels`), not over
HTTP; `/status` and `/v1/contracts` describe the node. The institution-facing API and JSON-RPC
are mounted by `nodes/api/rest.py` and `nodes/api/rpc.py` when present.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chain.crypto import checksum_address
from chain.errors import YrdError
from contracts import bindings
from nodes.api.dashboard_detail import dashboard_detail_router
from nodes.api.durability import DurableAnswers
from nodes.api.fast_path import FastRoutes, NodeApp
from nodes.api.http_io import BoundedJsonBodies, error_response, parse_hex
from nodes.api.limits import EdgeLimits
from nodes.api.metrics import RouteMetrics
from nodes.api.openapi import install_openapi
from nodes.api.path_params import Hash32Param
from nodes.api.payload_upload import payload_upload_router
from nodes.api.peer_reads import install_peer_reads
from nodes.api.rate_limits import RateLimits
from nodes.api.request_log import RefusalLog, RequestLog, commit_logger
from nodes.api.rest import install_error_handlers, read_router, write_router
from nodes.api.rpc import rpc_router
from nodes.api.rpc_subscriptions import websocket_router
from nodes.api.services import NodeServices, build_services
from nodes.api.signed import signed_router
from nodes.dashboard.events import announce_commit
from nodes.dashboard.routes import dashboard_router
from nodes.runtime.node import NodeRuntime


def create_app(runtime: NodeRuntime) -> NodeApp:
    """The FastAPI application of one node."""
    app = NodeApp(
        title=f"yrdchain node {runtime.config.node_id}",
        description="A city node of the Yangtze River Delta credit information chain.",
        version="0.1.0",
    )
    app.state.runtime = runtime
    app.add_middleware(BoundedJsonBodies)
    app.add_middleware(EdgeLimits)  # outermost: header count and body read timeout

    @app.exception_handler(YrdError)
    async def _yrd_error(_: Request, error: YrdError) -> JSONResponse:
        return error_response(error)

    @app.get("/status", tags=["node"])
    async def status() -> dict[str, Any]:
        """Node id, city, height, last block hash, state root, round, peers, validators."""
        return runtime.status()

    @app.get("/v1/contracts", tags=["node"])
    async def contracts() -> dict[str, Any]:
        """Each contract's name, address and ABI."""
        addresses = runtime.ledger.contracts
        return {
            "chain_id": runtime.preset.chain_id,
            "contracts": [
                {"name": name, "address": checksum_address(addresses.address_of(name)),
                 "abi": list(bindings.load_artifact(name).abi)}
                for name in bindings.DEPLOYMENT_ORDER
            ],
        }


    @app.get("/v1/transactions/{transaction_hash}", tags=["transactions"])
    async def transaction_status(transaction_hash: Hash32Param) -> dict[str, Any]:
        """Pending, committed (with its receipt), or unknown."""
        digest = parse_hex(transaction_hash, "transaction_hash", 32)
        found = runtime.ledger.receipt(digest)
        if found is None:
            if digest in runtime.ledger.mempool:
                return {"transaction_hash": transaction_hash, "status": "pending"}
            from chain.errors import NotFound

            raise NotFound(f"transaction {transaction_hash} is neither pending nor committed",
                           field="transaction_hash")
        height, index, receipt = found
        return {
            "transaction_hash": transaction_hash, "status": "committed",
            "block_height": height, "index": index,
            "receipt": {"status": receipt.status, "gas_used": receipt.gas_used,
                        "revert_reason": receipt.revert_reason,
                        "logs": len(receipt.logs)},
        }

    app.include_router(dashboard_router(runtime))
    mount_api(app, runtime)
    runtime.commit_hooks.append(lambda committed: announce_commit(runtime, committed))
    install_openapi(app)
    runtime.commit_hooks.append(commit_logger(runtime.config.node_id))
    refusals = RefusalLog(runtime.config.node_id)
    app.add_middleware(RequestLog, refusals=refusals)
    app.fast_routes = FastRoutes(app.state.services, app.state.rpc, refusals,
                                 app.state.durable_journals)
    return app


def mount_api(app: FastAPI, runtime: NodeRuntime, limits: RateLimits | None = None) -> NodeServices:
    """Add the REST API, signed reads, peer routes and JSON-RPC to a node's app."""
    services = build_services(runtime, limits)
    app.state.services = services
    install_error_handlers(app)
    app.include_router(write_router(services))
    app.include_router(read_router(services))
    app.include_router(signed_router(services))
    app.include_router(payload_upload_router(services))
    app.include_router(dashboard_detail_router(services))
    rpc_http, rpc = rpc_router(services)
    app.state.rpc = rpc
    app.include_router(rpc_http)
    app.include_router(websocket_router(rpc))
    install_peer_reads(services)
    app.state.durable_journals = (runtime.pending_durable, services.audit.durable)
    app.add_middleware(DurableAnswers, journals=app.state.durable_journals)
    app.add_middleware(RouteMetrics, requests=services.requests)
    return services
