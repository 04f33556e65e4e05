"""The local channel between a node's process (the one writer) and its read workers.

A node started with `--read-workers N` keeps consensus, execution, storage writes, the
journals, the replay guard's nonces, the rate limits and the peer channel in its own process
(the writer) and serves signed reads from N worker processes as well (ADR 0021). A worker asks
the writer for what must be one per node over this channel: a Unix socket in the node's data
directory, carrying the peer channel's frames (`nodes.runtime.channel`: 13-byte header, a
method byte, the body; answers carry a status byte). Requests are multiplexed by id, so one
connection per worker carries every request in flight, and each side writes everything that
is ready in one loop iteration with one `write` (a batch).

`WriterLinkServer` (in the writer) answers each request with the handler registered for its
method, each in its own task, so a handler may wait — the audit append waits for its group
fsync — while the others are answered. Request id 0 marks a notice, answered by nothing.
`WriterLink` (in a worker) sends requests and notices; when the writer goes away, `closed` is
set and every request in flight fails with `PeerUnavailable`. The other way round, the writer
asks every connected worker at once (`WriterLinkServer.ask_workers`, e.g. for its metrics when
the node's `/metrics` is scraped); a worker answers with the handlers given to its `WriterLink`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from enum import IntEnum
from pathlib import Path

from nodes.runtime.channel import (
    AnswerStatus,
    FrameKind,
    PeerRefused,
    PeerUnavailable,
    decode_answer,
    encode_frame,
    encode_response,
    read_frame,
)

LOGGER = logging.getLogger(__name__)
SOCKET_FILE_NAME = "writer.sock"  # in the node's data directory
MAX_SOCKET_PATH_BYTES = 100  # sun_path holds 108 bytes with its terminator; keep a margin
REQUEST_TIMEOUT_S = 5.0  # a writer that answers nothing this long is treated as gone
MAX_REQUESTS_IN_FLIGHT = 16_384  # per worker: beyond it new requests fail at once
NOTICE = 0  # the request id of a frame that wants no answer
ASK_WORKERS_TIMEOUT_S = 2.0  # a worker that has not answered the writer by then is left out


class WriterMethod(IntEnum):
    """What a worker asks of its node's writer."""

    ADMIT = 1  # a signed read's nonce and the signer's rate limit: one guard per node
    AUDIT = 2  # append an answered query to the audit trail; answered after its fsync
    EMIT = 3  # a dashboard event (a notice)
    METRICS = 4  # writer -> worker: the worker's metric families (`nodes.api.worker_metrics`)


WriterHandler = Callable[[bytes], Awaitable[bytes]]
"""Answers one request body; raises PeerRefused to refuse with a code and a reason."""


def socket_path(data_dir: Path) -> Path:
    """Where a node's writer listens for its workers; ValueError if the path is too long."""
    path = Path(data_dir) / SOCKET_FILE_NAME
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise ValueError(f"{path} is longer than a Unix socket path may be "
                         f"({MAX_SOCKET_PATH_BYTES} bytes): use a shorter data directory")
    return path


class Outbox:
    """Frames for one stream, written together once per loop iteration (one system call)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._frames: list[bytes] = []

    def put(self, frame: bytes) -> None:
        """Queue a frame; the first of an iteration schedules the flush."""
        if not self._frames:
            asyncio.get_running_loop().call_soon(self._flush)
        self._frames.append(frame)

    def _flush(self) -> None:
        frames, self._frames = self._frames, []
        if frames and not self.writer.is_closing():
            self.writer.write(b"".join(frames))


class WriterLinkServer:
    """The writer's end: answers its workers' requests with registered handlers."""

    def __init__(self, path: Path, handlers: dict[WriterMethod, WriterHandler]) -> None:
        self.path = path
        self.handlers = handlers
        self.requests_served = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._outboxes: dict[asyncio.StreamWriter, Outbox] = {}
        self._asked: dict[int, asyncio.Future[bytes]] = {}  # the writer's own requests
        self._ask_ids = itertools.count(1)

    async def start(self) -> None:
        """Listen on the socket path (a stale socket file of a killed node is replaced)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._connection, path=str(self.path))
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        """Stop listening and drop the connections."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self._connections):
            connection.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        outbox = Outbox(writer)
        self._connections.add(writer)
        self._outboxes[writer] = outbox
        try:
            while True:
                kind, request_id, body = await read_frame(reader)
                if kind is FrameKind.RESPONSE:
                    asked = self._asked.get(request_id)
                    if asked is not None and not asked.done():
                        asked.set_result(body)
                    continue
                if kind is not FrameKind.REQUEST or not body:
                    raise ValueError(f"a worker sent a {kind.name} frame")
                self._spawn(self._answer(outbox, request_id, body))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            if not isinstance(error, asyncio.IncompleteReadError):
                LOGGER.warning("read worker connection closed: %s", error)
        finally:
            self._connections.discard(writer)
            self._outboxes.pop(writer, None)
            writer.close()

    async def ask_workers(self, method: WriterMethod, body: bytes = b"",
                          timeout_s: float = ASK_WORKERS_TIMEOUT_S) -> list[bytes]:
        """The answers of every connected worker to one request, asked at once; a worker that
        refuses, fails or does not answer within `timeout_s` is left out."""
        loop = asyncio.get_running_loop()
        asked: list[tuple[int, asyncio.Future[bytes]]] = []
        for outbox in list(self._outboxes.values()):
            request_id = next(self._ask_ids)
            answer: asyncio.Future[bytes] = loop.create_future()
            self._asked[request_id] = answer
            asked.append((request_id, answer))
            outbox.put(encode_frame(FrameKind.REQUEST, request_id, bytes((method,)) + body))
        if not asked:
            return []
        try:
            await asyncio.wait([answer for _, answer in asked], timeout=timeout_s)
        finally:
            for request_id, _ in asked:
                self._asked.pop(request_id, None)
        answers = []
        for _, answer in asked:
            if not answer.done():
                answer.cancel()
                continue
            try:
                answers.append(decode_answer(answer.result()))
            except (PeerRefused, PeerUnavailable, ValueError) as error:
                LOGGER.warning("a read worker did not answer %s: %s", method.name, error)
        return answers

    async def _answer(self, outbox: Outbox, request_id: int, body: bytes) -> None:
        try:
            handler = self.handlers[WriterMethod(body[0])]
            answer = encode_response(AnswerStatus.OK, request_id, await handler(body[1:]))
        except PeerRefused as refusal:
            answer = encode_response(AnswerStatus.REFUSED, request_id, refusal.encode())
        except (PeerUnavailable, TimeoutError) as error:
            answer = encode_response(AnswerStatus.FAILED, request_id, str(error).encode())
        except Exception as error:
            LOGGER.exception("read worker request failed")
            answer = encode_response(AnswerStatus.FAILED, request_id,
                                     f"the node failed to answer: {error!r}".encode())
        self.requests_served += 1
        if request_id != NOTICE:
            outbox.put(answer)


class WriterLink:
    """A worker's end: requests to its node's writer over one connection."""

    def __init__(self, path: Path, handlers: dict[WriterMethod, WriterHandler] | None = None
                 ) -> None:
        self.path = path
        self.handlers = handlers or {}  # what the writer may ask of this worker
        self.closed = asyncio.Event()
        self._outbox: Outbox | None = None
        self._requests: dict[int, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)
        self._reading: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Future[bytes]] = set()

    async def connect(self) -> None:
        """Connect to the writer (OSError if it is not listening)."""
        reader, writer = await asyncio.open_unix_connection(str(self.path))
        self._outbox = Outbox(writer)
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))

    async def close(self) -> None:
        """Close the connection."""
        if self._outbox is not None:
            self._outbox.writer.close()
        if self._reading is not None:
            self._reading.cancel()
        self.closed.set()

    async def request(self, method: WriterMethod, body: bytes,
                      timeout_s: float = REQUEST_TIMEOUT_S) -> bytes:
        """The writer's answer body; PeerRefused as the writer refused, PeerUnavailable when
        it did not answer."""
        if self._outbox is None or self.closed.is_set():
            raise PeerUnavailable("the node's writer process is not connected")
        if len(self._requests) >= MAX_REQUESTS_IN_FLIGHT:
            raise PeerUnavailable("too many requests in flight to the node's writer")
        request_id = next(self._ids)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._requests[request_id] = answer
        self._outbox.put(encode_frame(FrameKind.REQUEST, request_id, bytes((method,)) + body))
        try:
            return decode_answer(await asyncio.wait_for(answer, timeout_s))
        except TimeoutError as error:
            raise PeerUnavailable(f"the node's writer did not answer within {timeout_s:g} s"
                                  ) from error
        finally:
            self._requests.pop(request_id, None)

    def notify(self, method: WriterMethod, body: bytes) -> None:
        """Send a notice (no answer); dropped when the writer is not connected."""
        if self._outbox is not None and not self.closed.is_set():
            self._outbox.put(encode_frame(FrameKind.REQUEST, NOTICE, bytes((method,)) + body))

    def _answer_writer(self, request_id: int, body: bytes) -> None:
        """Answer a request of the writer (handlers are quick: answered in place)."""
        handler = self.handlers.get(WriterMethod(body[0])) if body[0] in _METHODS else None
        if handler is None:
            self._reply(encode_response(AnswerStatus.FAILED, request_id,
                                        b"this worker does not answer that method"))
            return
        task = asyncio.ensure_future(handler(body[1:]))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        task.add_done_callback(lambda done: self._reply(_answer_of(request_id, done)))

    def _reply(self, frame: bytes) -> None:
        if self._outbox is not None and not self.closed.is_set():
            self._outbox.put(frame)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, request_id, body = await read_frame(reader)
                if kind is FrameKind.REQUEST and body:
                    self._answer_writer(request_id, body)
                    continue
                waiting = self._requests.get(request_id)
                if kind is FrameKind.RESPONSE and waiting is not None and not waiting.done():
                    waiting.set_result(body)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            LOGGER.warning("the node's writer closed the link: %r", error)
        finally:
            self.closed.set()
            for waiting in self._requests.values():
                if not waiting.done():
                    waiting.set_exception(PeerUnavailable("the node's writer went away"))


_METHODS = frozenset(int(method) for method in WriterMethod)


def _answer_of(request_id: int, done: asyncio.Future[bytes]) -> bytes:
    """The response frame for a handler's outcome."""
    if done.cancelled():
        return encode_response(AnswerStatus.FAILED, request_id, b"cancelled")
    error = done.exception()
    if isinstance(error, PeerRefused):
        return encode_response(AnswerStatus.REFUSED, request_id, error.encode())
    if error is not None:
        LOGGER.warning("a request of the writer failed: %r", error)
        return encode_response(AnswerStatus.FAILED, request_id, repr(error).encode())
    return encode_response(AnswerStatus.OK, request_id, done.result())
