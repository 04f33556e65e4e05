"""No answer before the work it acknowledges is on disk.

`DurableAnswers` wraps the whole application: when a response is about to start, it first
awaits the node's journals (pending transactions, audit entries; `nodes.storage.journal`). A
request that appended nothing waits for nothing (one comparison per journal); one that
appended a record waits for the group commit covering it, shared with every request appended
alongside. So a 202 for a transaction and a 200 for a report each mean "fsynced": a `kill -9`
right after the answer loses neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Durable = Callable[[], Awaitable[None]]


class DurableAnswers:
    """ASGI middleware: each response waits for the journals' group commit."""

    def __init__(self, app: ASGIApp, journals: Sequence[Durable]) -> None:
        self.app = app
        self.journals = tuple(journals)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        journals = self.journals

        async def send_when_durable(message: Message) -> None:
            if message["type"] == "http.response.start":
                for durable in journals:
                    await durable()
            await send(message)

        await self.app(scope, receive, send_when_durable)
