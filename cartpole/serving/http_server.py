"""``cartpole serve``'s HTTP/1.1 server: httptools' parser on an asyncio protocol (uvloop),
answering each request with the app's synchronous ``respond``.

Why not uvicorn (``serve --http-server uvicorn`` still runs it): measured with ``make
bench-serve-stacks``, uvicorn's per-request machinery (an ASGI scope, a task, receive and
send messages) costs about as much as the prediction itself. The app never waits on
anything, so this server calls it directly, in the event loop, and writes each answer in
one piece at the end of the loop's round (``_Outbox``).

What it does, as uvicorn does: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request),
pipelined requests answered in order, chunked request bodies, ``Expect: 100-continue``,
a body limit (413, then the connection closes), a limit on the request head (431; as
long as a body may be, plus 64 KiB, since a message may come as ``?json=``), 400 and
close on a malformed request, idle connections closed after ``keep_alive`` seconds,
reading paused while the client does not read its answers, and a ``Date`` header.
Ctrl-C or SIGTERM closes the listening socket and every connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import signal
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Protocol
from urllib.parse import unquote

import httptools

from cartpole.serving.app import Request, Response

log = logging.getLogger(__name__)
HEADERS_ROOM = 64 * 1024  # bytes of request line and headers, beyond the body's limit
# (a message may come as ?json=..., as large as a body)
KEEP_ALIVE = 5.0  # seconds an idle connection stays open, as uvicorn's default
DRAIN_LIMIT = 64 << 20  # bytes of an oversized body read (and dropped) before closing
REQUEST_TIMEOUT = 60.0  # seconds a request may take to arrive
REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


def _plain(status: int, text: bytes) -> bytes:
    """A whole plain-text answer that closes the connection."""
    return (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, REASONS[status], len(text), text))


BAD_REQUEST = _plain(400, b"bad HTTP request")
HEAD_TOO_LARGE = _plain(431, b"request head too large")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class App(Protocol):
    max_body: int

    def respond(self, request: Request) -> Response: ...


class _Clock:
    """The ``Date`` header's value, formatted once a second rather than per answer."""

    def __init__(self) -> None:
        self.date = b""
        self.tick()

    def tick(self) -> None:
        self.date = email.utils.formatdate(usegmt=True).encode()


class _Outbox:
    """Answers written when the event loop's round ends, not one by one.

    A round that answers several connections then wakes the client once rather than once
    per answer: measured at 16 connections, writing each answer at once made the write
    that wakes an idle client a sixth of the server's time, and the server answered a
    third fewer requests. With one connection open there is no round to share, and the
    answer is written at once (``_Connection._send``).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[asyncio.Transport, bytes, bool]] = []

    def put(self, transport: asyncio.Transport, data: bytes, close: bool) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append((transport, data, close))

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for transport, data, close in pending:
            if transport.is_closing():
                continue
            if data:
                transport.write(data)
            if close:
                transport.close()


class _Connection(asyncio.Protocol):
    """One client connection: parse requests, answer each as soon as it is complete."""

    def __init__(self, app: App, clock: _Clock, outbox: _Outbox,
                 connections: set[_Connection]) -> None:
        self.app, self.clock, self.outbox, self.connections = app, clock, outbox, connections
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.closing = False
        self.active = time.monotonic()  # last data received or answer sent
        self.started: float | None = None  # when the request now arriving began
        self._reset()

    def _reset(self) -> None:
        self.url, self.headers, self.chunks = b"", {}, []
        self.size = self.head = 0
        self.too_large = False

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # An upgrade (websocket, h2c) is answered as plain HTTP/1.1, as uvicorn does
            # without websockets; what follows the request is not HTTP/1.1: close.
            self.close()
        except httptools.HttpParserError:
            self.close(BAD_REQUEST)

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests."""
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    # -- httptools callbacks --------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()
        self.started = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._count_head(len(name) + len(value))
        old = self.headers.get(name)
        self.headers[name] = value if old is None else old + b", " + value

    def on_headers_complete(self) -> None:
        if self.closing:
            return
        length = self.headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.app.max_body:
            self.too_large = True
            self._answer(None)  # now, rather than after the whole body arrived
        elif (self.headers.get(b"expect", b"").lower() == b"100-continue"
              and self.parser.get_http_version() == "1.1"):
            self._send(CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self.closing:
            return
        self.size += len(body)
        if self.too_large:  # answered already: read the rest, up to a bound, and drop it
            if self.size > DRAIN_LIMIT:
                self.close()
            return
        if self.size > self.app.max_body:
            self.too_large = True
            self._answer(None)
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.started = None
        if self.closing:
            return
        if self.too_large:
            self.close()
            return
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self._answer(body)

    # -- answering ------------------------------------------------------------------------
    def _count_head(self, n: int) -> None:
        self.head += n
        if self.head > self.app.max_body + HEADERS_ROOM and not self.closing:
            self.close(HEAD_TOO_LARGE)

    def _answer(self, body: bytes | None) -> None:
        """Answer the request now parsed; ``body`` None: it is over the limit, and the
        connection closes once the rest of the body has arrived (closing while the
        client still sends would reset the connection before it reads the answer)."""
        target = _target(self.url)
        if target is None:
            self.close(BAD_REQUEST)
            return
        request = Request(self.parser.get_method().decode("latin-1"), target[0], target[1],
                          self.headers, body)
        try:
            response = self.app.respond(request)
        except Exception:  # a bug answers 500 and serving goes on
            log.exception("error answering %s %s", request.method, request.path)
            response = Response(500, b'{"error": "internal server error"}')
        keep = body is not None and self.parser.should_keep_alive()
        self.active = time.monotonic()
        if keep or body is None:
            self._send(_encode(response, self.clock.date, keep))
        else:
            self.close(_encode(response, self.clock.date, keep))

    def _send(self, data: bytes, close: bool = False) -> None:
        """Write ``data`` (then close) after what this connection was already sent."""
        transport = self.transport
        if transport is None:
            return
        if len(self.connections) == 1 and not self.outbox.pending:
            transport.write(data)
            if close:
                transport.close()
        else:
            self.outbox.put(transport, data, close)

    def close(self, last: bytes = b"") -> None:
        """Stop reading; write ``last`` after the answers already given, then close."""
        if self.closing:
            return
        self.closing = True
        self._send(last, close=True)

    def expired(self, now: float, keep_alive: float) -> bool:
        if self.started is not None:
            return now - self.started > REQUEST_TIMEOUT
        return now - self.active > keep_alive


def _target(url: bytes) -> tuple[str, bytes] | None:
    """The request target's path (percent-decoded, as ASGI servers give it) and query;
    None if it is neither a path nor an absolute URL. (httptools' ``parse_url`` keeps
    16-bit offsets and fails on targets over 64 KiB, which a ``?json=`` message can be.)"""
    path, _, query = url.partition(b"?")
    if not path.startswith(b"/"):
        scheme, sep, rest = path.partition(b"://")  # absolute-form, as sent to a proxy
        if not sep or scheme.lower() not in (b"http", b"https"):
            return None
        path = b"/" + rest.partition(b"/")[2]
    return unquote(path.decode("latin-1")), query


def _encode(response: Response, date: bytes, keep: bool) -> bytes:
    body = response.body
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\ndate: %s\r\n"
            % (response.status, REASONS.get(response.status, b""), response.content_type,
               len(body), date))
    if response.allow is not None:
        head += b"allow: " + ", ".join(sorted(response.allow)).encode() + b"\r\n"
    if not keep:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body


def serve(app: App, sock: socket.socket, on_ready: Callable[[], None] | None = None,
          keep_alive: float = KEEP_ALIVE) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGTERM (then return) or Ctrl-C (then
    KeyboardInterrupt, as uvicorn does: the shell's exit code 130)."""
    stopped_by: list[int] = []

    async def main() -> None:
        loop, stop = asyncio.get_running_loop(), asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda sig=sig: (stopped_by.append(sig), stop.set()))
        try:
            await serve_until(app, sock, stop, on_ready, keep_alive)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a serving dependency
        asyncio.run(main())
    else:
        uvloop.run(main())
    if stopped_by[:1] == [signal.SIGINT]:
        raise KeyboardInterrupt


async def serve_until(app: App, sock: socket.socket, stop: asyncio.Event,
                      on_ready: Callable[[], None] | None = None,
                      keep_alive: float = KEEP_ALIVE) -> None:
    """Serve ``app`` on ``sock`` in the running event loop until ``stop`` is set; then
    close the listening socket and every connection."""
    loop = asyncio.get_running_loop()
    clock, outbox, connections = _Clock(), _Outbox(loop), set[_Connection]()
    sock.listen(2048)
    server = await loop.create_server(lambda: _Connection(app, clock, outbox, connections),
                                      sock=sock, backlog=2048)
    if on_ready is not None:
        on_ready()

    def sweep() -> None:
        clock.tick()
        now = time.monotonic()
        for connection in [c for c in connections if c.expired(now, keep_alive)]:
            connection.close()
        timer[0] = loop.call_later(1.0, sweep)

    timer = [loop.call_later(1.0, sweep)]
    try:
        await stop.wait()
    finally:
        timer[0].cancel()
        server.close()
        for connection in list(connections):
            connection.close()
        outbox.flush()
        await server.wait_closed()
