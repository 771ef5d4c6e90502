"""``cartpole serve``'s built-in HTTP/1.1 server, over real sockets.

The server runs in this process, in a thread with its own event loop, on a free
loopback port; the client is a plain socket, so that what goes over the wire (pipelined
requests, chunked bodies, half-sent bodies, garbage) is exactly what the test says.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cartpole.serving.app import Request, Response
from cartpole.serving.server import build_app
from tests.servers import BIN, cartpole_serve
from tests.serving.live import running

BODY = b'{"data": {"ndarray": [[0.01, -0.02, 0.03, 0.04]]}}'


def predict(body: bytes = BODY, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (b"POST /api/v1.0/predictions HTTP/" + version + b"\r\nHost: t\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
            + extra + b"\r\n" + body)


@contextmanager
def connect(port: int) -> Iterator[tuple[socket.socket, object]]:
    conn = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        yield conn, conn.makefile("rb")
    finally:
        conn.close()


def read_response(stream) -> tuple[int, dict[str, str], bytes]:
    """One response from ``stream``: status, headers (lower-case names), body."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, value = line.decode("latin-1").split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


def closed(stream) -> bool:
    """True once the server closed the connection (read returns nothing)."""
    return stream.read(1) == b""


@pytest.fixture(scope="module")
def app(model_file):
    return build_app([model_file], max_body=1000)


def test_keep_alive_and_pipelined_requests_answered_in_order(app):
    expected = json.loads(app.respond(Request("POST", "/api/v1.0/predictions",
                                              body=BODY)).body)
    ping = b"GET /health/ping HTTP/1.1\r\nHost: t\r\n\r\n"
    with running(app) as port, connect(port) as (conn, stream):
        conn.sendall(predict() + ping + predict())  # three requests in one write
        first, second, third = (read_response(stream) for _ in range(3))
        assert first[0] == 200 and json.loads(first[2]) == expected
        assert second[0] == 200 and json.loads(second[2]) == "pong"
        assert third[0] == 200 and json.loads(third[2]) == expected
        assert "date" in first[1] and "connection" not in first[1]
        conn.sendall(ping)  # the connection is still open
        assert read_response(stream)[0] == 200


@pytest.mark.parametrize("request_bytes", [
    predict(version=b"1.0"),  # HTTP/1.0 without keep-alive
    predict(extra=b"Connection: close\r\n"),
])
def test_a_connection_that_asks_to_close_is_closed_after_its_answer(app, request_bytes):
    with running(app) as port, connect(port) as (conn, stream):
        conn.sendall(request_bytes)
        status, headers, _ = read_response(stream)
        assert status == 200 and headers["connection"] == "close"
        assert closed(stream)


def test_chunked_request_body(app):
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                      for part in (BODY[:10], BODY[10:30], BODY[30:])) + b"0\r\n\r\n"
    head = (b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: t\r\nContent-Type: "
            b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    with running(app) as port, connect(port) as (conn, stream):
        conn.sendall(head + chunks)
        status, _, body = read_response(stream)
        assert status == 200 and json.loads(body)["data"]["names"] == ["action"]


def test_expect_100_continue_is_answered_before_the_body(app):
    with running(app) as port, connect(port) as (conn, stream):
        request = predict(extra=b"Expect: 100-continue\r\n")
        head, body = request.split(b"\r\n\r\n", 1)
        conn.sendall(head + b"\r\n\r\n")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        conn.sendall(body)
        assert read_response(stream)[0] == 200


@pytest.mark.parametrize(("path", "shape"), [("/api/v1.0/predictions", "status"),
                                             ("/v2/models/cartpole/infer", "error")])
@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_body_is_413_in_the_protocols_shape_then_closed(app, path, shape,
                                                                     declared):
    big = b'{"pad": "' + b"x" * 5000 + b'"}'
    if declared:  # Content-Length says it: answered before the body is read
        request = (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(big)}\r\n\r\n"
                   .encode() + big)
    else:  # chunked: found out while reading
        request = (f"POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   .encode() + b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 500]),
                                                        big[i:i + 500])
                                        for i in range(0, len(big), 500)) + b"0\r\n\r\n")
    with running(app) as port, connect(port) as (conn, stream):
        conn.sendall(request)  # the whole body is sent, and nothing resets the connection
        status, _, body = read_response(stream)
        assert status == 413 and shape in json.loads(body)
        assert closed(stream)


@pytest.mark.parametrize(("garbage", "status"), [
    (b"NOT HTTP AT ALL\r\n\r\n", 400),
    (b"GET /health/ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"POST /api/v1.0/predictions HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
])
def test_a_malformed_or_huge_request_is_answered_and_closed(app, garbage, status):
    with running(app) as port, connect(port) as (conn, stream):
        conn.sendall(garbage)
        assert read_response(stream)[0] == status
        assert closed(stream)
        with connect(port) as (conn2, stream2):  # the server goes on
            conn2.sendall(b"GET /health/ping HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(stream2)[0] == 200


class Buggy:
    """An app with a bug on one path."""

    max_body = 1000

    def respond(self, request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("a bug")
        return Response(200, b'"fine"')


def test_a_bug_is_a_500_and_the_connection_goes_on(caplog):
    with running(Buggy()) as port, connect(port) as (conn, stream):
        conn.sendall(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(stream)[0] == 500
        conn.sendall(b"GET /fine HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(stream)[2] == b'"fine"'
    assert "a bug" in caplog.text


def test_idle_connections_are_closed_after_keep_alive(app):
    with running(app, keep_alive=0.5) as port, connect(port) as (conn, stream):
        conn.sendall(b"GET /health/ping HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(stream)[0] == 200
        started = time.monotonic()
        assert closed(stream)  # blocks until the server closes it (timeout: 20 s)
        assert time.monotonic() - started >= 0.4  # not before the keep-alive was up


def test_stopping_closes_open_connections(app):
    with running(app) as port:
        conn = socket.create_connection(("127.0.0.1", port), timeout=20)
        stream = conn.makefile("rb")
        conn.sendall(b"GET /health/ping HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(stream)[0] == 200
    assert closed(stream)
    conn.close()


def test_many_connections_at_once_each_get_their_answers(app):
    expected = json.loads(app.respond(Request("POST", "/api/v1.0/predictions",
                                              body=BODY)).body)
    with running(app) as port:
        conns = [socket.create_connection(("127.0.0.1", port), timeout=20)
                 for _ in range(16)]
        try:
            streams = [c.makefile("rb") for c in conns]
            for _ in range(5):
                for c in conns:
                    c.sendall(predict())
                for s in streams:
                    status, _, body = read_response(s)
                    assert status == 200 and json.loads(body) == expected
        finally:
            for c in conns:
                c.close()


@pytest.mark.slow  # starts `cartpole serve`
@pytest.mark.parametrize("http_server", ["builtin", "uvicorn"])
def test_cartpole_serve_on_either_http_server_stops_on_ctrl_c(tmp_path, model_file,
                                                              http_server):
    """Ctrl-C is exit code 130 (as the shell counts an interrupt), on both servers."""
    server = cartpole_serve(tmp_path, str(model_file), "--http-server", http_server)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        with connect(port) as (conn, stream):  # an open keep-alive connection
            conn.sendall(predict())
            status, _, body = read_response(stream)
            assert status == 200 and json.loads(body)["data"]["ndarray"][0][0] in (0, 1)
            os.killpg(server.proc.pid, signal.SIGINT)
            assert server.proc.wait(20) == 130
    finally:
        server.stop()


@pytest.mark.slow  # starts `cartpole serve`
def test_sigterm_stops_the_builtin_server_cleanly(tmp_path, model_file):
    server = cartpole_serve(tmp_path, str(model_file))
    try:
        port = int(server.url.rsplit(":", 1)[1])
        with connect(port) as (conn, stream):
            conn.sendall(predict())
            assert read_response(stream)[0] == 200
            os.killpg(server.proc.pid, signal.SIGTERM)
            assert server.proc.wait(20) == 0
            assert closed(stream)
    finally:
        server.stop()


@pytest.mark.slow
def test_serve_help_names_the_http_servers():
    out = subprocess.run([str(BIN / "cartpole"), "serve", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--http-server [builtin|uvicorn]" in out
