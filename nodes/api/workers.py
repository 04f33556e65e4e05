"""The writer's side of read workers: what a worker asks of its node's process (ADR 0021).

A node with read workers keeps every piece of per-node state in its own process, the one
writer: the replay guard's nonces and the rate limits (`ADMIT`), the audit journal (`AUDIT`,
answered only after the entry's group fsync, so an entry a worker acknowledged survives
`kill -9` of the node) and the dashboard stream (`EMIT`). Payloads of other cities a worker
fetches over its own read connections (`nodes.runtime.read_channels`). `worker_handlers` maps
each `WriterMethod` to its handler over the node's `NodeServices`; `refusal` and
`raise_refusal` carry a core error across the channel with its code, message and field, so a
worker answers exactly what the writer would have.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from chain.errors import NodeUnavailable, YrdError
from nodes.api.metrics import Metric
from nodes.api.services import NodeServices
from nodes.api.worker_metrics import decode_families
from nodes.runtime.channel import PeerRefused
from nodes.runtime.writer_link import WriterHandler, WriterLinkServer, WriterMethod

LOGGER = logging.getLogger(__name__)


def _error_classes(base: type[YrdError]) -> dict[str, type[YrdError]]:
    found = {base.code: base}
    for subclass in base.__subclasses__():
        found.update(_error_classes(subclass))
    return found


ERROR_CLASSES = _error_classes(YrdError)  # code -> class: a refusal keeps its type over the link


def refusal(error: YrdError) -> PeerRefused:
    """A core error as the writer link carries it (code, and message and field in JSON)."""
    return PeerRefused(orjson.dumps({"message": error.message, "field": error.field}).decode(),
                       error.code)


def raise_refusal(refused: PeerRefused) -> None:
    """Raise the core error a writer refusal carries (a plain 503 if it carries none)."""
    kind = ERROR_CLASSES.get(refused.code)
    try:
        detail = orjson.loads(refused.message)
        message, field = str(detail["message"]), detail.get("field")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        kind, message, field = None, refused.message, None
    if kind is None:
        raise NodeUnavailable(f"the node refused: {message}") from refused
    raise kind(message, field)


def encode_admission(signer: bytes, nonce: str, now_ms: int) -> bytes:
    """The body of an ADMIT request."""
    return orjson.dumps({"signer": signer.hex(), "nonce": nonce, "now_ms": now_ms})


def worker_handlers(services: NodeServices) -> dict[WriterMethod, WriterHandler]:
    """The writer's answers to its read workers, over this node's services."""
    runtime = services.runtime

    async def admit(body: bytes) -> bytes:
        document = orjson.loads(body)
        signer = bytes.fromhex(document["signer"])
        try:
            services.verifier.guard.remember(signer, str(document["nonce"]),
                                             int(document["now_ms"]))
            services.take_query(signer)
        except YrdError as error:
            raise refusal(error) from error
        return b""

    async def audit(body: bytes) -> bytes:
        document: dict[str, Any] = orjson.loads(body)
        entry_id = await services.audit_query(
            int(document["time_ms"]), str(document["enterprise"]), str(document["querier"]),
            str(document["querier_name"]), str(document["querier_city"]),
            str(document["request_hash"]), int(document["records"]))
        await services.audit.durable()  # acknowledged means fsynced, as for the writer's own
        return entry_id.encode()

    async def emit(body: bytes) -> bytes:
        runtime.emit(orjson.loads(body))
        return b""

    handlers: dict[WriterMethod, WriterHandler] = {
        WriterMethod.ADMIT: admit, WriterMethod.AUDIT: audit, WriterMethod.EMIT: emit}
    return {method: _counted(services, method, handler) for method, handler in handlers.items()}


def _counted(services: NodeServices, method: WriterMethod, handler: WriterHandler
             ) -> WriterHandler:
    name = method.name.lower()

    async def counted(body: bytes) -> bytes:
        services.worker_requests[name] += 1
        return await handler(body)

    return counted


async def workers_metrics(link: WriterLinkServer) -> list[Metric]:
    """The metric families of every worker connected to the writer, each sample labelled
    with its worker (`nodes.api.worker_metrics`); one that does not answer is left out."""
    families: list[Metric] = []
    for answer in await link.ask_workers(WriterMethod.METRICS):
        try:
            families.extend(decode_families(answer))
        except ValueError as error:
            LOGGER.warning("a read worker's metrics could not be read: %s", error)
    return families
