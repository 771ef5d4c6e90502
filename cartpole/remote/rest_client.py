"""Seldon's REST protocol over one kept-alive HTTP/1.1 connection per client.

The socket is ours and the responses are parsed by httptools (llhttp, the C parser
uvicorn uses): chunked bodies and keep-alive are handled by the parser. The standard
library's ``http.client`` was the bottleneck of the agent when it was measured (its
header parsing held the runners to about a third of the speed they reach this way). A
server that closes after each answer (seldon-core's gunicorn sync worker does) is
reconnected transparently.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httptools
import numpy as np

from cartpole.remote.client import Reply, RetryPolicy
from cartpole.remote.errors import AuthError, BadAnswer, ServerError
from cartpole.remote.target import Target

PREDICT, FEEDBACK = "/api/v1.0/predictions", "/api/v1.0/feedback"
BUSY = {502, 503, 504}  # a gateway or a model still starting: worth a retry


class _Busy(Exception):
    """An answer that says "try again soon"."""


class _Response:
    """httptools' callbacks: the body's pieces, whether the message is complete, and
    whether the server keeps the connection open."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False
        self.connection = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"connection":
            self.connection = value.strip().lower()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class RestClient:
    def __init__(self, target: Target, retry: RetryPolicy | None = None,
                 stop: Callable[[], bool] | None = None) -> None:
        self.target, self.retry, self.stop = target, retry or RetryPolicy(), stop
        self._sock: socket.socket | None = None
        host = f"[{target.host}]" if ":" in target.host else target.host
        extra = "".join(f"{k}: {v}\r\n" for k, v in target.headers().items())
        self._head = (f"Host: {host}:{target.port}\r\nContent-Type: application/json\r\n"
                      f"{extra}")

    def predict(self, rows: np.ndarray) -> Reply:
        started = time.perf_counter()
        answer = self._post(PREDICT, {"data": {"ndarray": rows.tolist()}})
        actions = parse_actions(answer, len(rows))
        routing = ((answer.get("meta") or {}).get("routing") or {})
        if not isinstance(routing, dict):
            routing = {}
        return Reply(actions, routing, answer, time.perf_counter() - started)

    def feedback(self, rows: np.ndarray, reply: Reply, reward: float) -> None:
        self._post(FEEDBACK, {"request": {"data": {"ndarray": rows.tolist()}},
                              "response": reply.response, "reward": float(reward)})

    def close(self) -> None:
        self._drop()

    # -- HTTP ----------------------------------------------------------------------
    def _post(self, path: str, message: dict[str, Any]) -> Any:
        body = json.dumps(message, separators=(",", ":")).encode()
        request = (f"POST {self.target.prefix}{path} HTTP/1.1\r\n{self._head}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        url = self.target.url(path)
        status, data = self.retry.call(
            f"cannot reach {url}", lambda: self._exchange(request),
            (OSError, _Busy), reset=self._drop, stop=self.stop)
        if status in (401, 403):
            raise AuthError(f"{url} refused the request (HTTP {status}): {_info(data)}; "
                            "check --token or the OAuth options")
        if status != 200:
            raise ServerError(f"{url} answered HTTP {status}: {_info(data)}", status)
        try:
            return json.loads(data)
        except ValueError:
            raise BadAnswer(f"{url} answered something that is not JSON: "
                            f"{data[:80]!r}") from None

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        sock = self._connection()
        sock.sendall(request)
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        try:
            while not response.complete:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("the server closed the connection")
                parser.feed_data(chunk)
        except httptools.HttpParserError as exc:
            self._drop()
            raise BadAnswer(f"{self.target.url()} answered something that is not HTTP: "
                            f"{exc}") from None
        status, data = parser.get_status_code(), b"".join(response.body)
        http10 = parser.get_http_version() == "1.0"
        if response.connection == b"close" or (http10 and response.connection != b"keep-alive"):
            self._drop()
        if status in BUSY:
            raise _Busy(f"HTTP {status} {_info(data)}".strip())
        return status, data

    def _connection(self) -> socket.socket:
        if self._sock is None:
            t = self.target
            sock = socket.create_connection((t.host, t.port), timeout=self.retry.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if t.tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=t.host)
            self._sock = sock
        return self._sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def parse_actions(answer: Any, n_rows: int) -> np.ndarray:
    """One integer action per row, from ``data.ndarray`` or ``data.tensor``."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise BadAnswer(f"the answer has no 'data': {str(answer)[:120]}")
    if "ndarray" in data:
        values = data["ndarray"]
    elif isinstance(data.get("tensor"), dict):
        values = data["tensor"].get("values")
    else:
        raise BadAnswer("the answer's data has neither 'ndarray' nor 'tensor'")
    return check_actions(values, n_rows)


def check_actions(values: Any, n_rows: int) -> np.ndarray:
    """``values`` as one integer action per row, or BadAnswer."""
    try:
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise BadAnswer(f"the answer's actions are not numbers: {str(values)[:120]}") from None
    if flat.size != n_rows:
        raise BadAnswer(f"sent {n_rows} observation(s), got {flat.size} action(s) back")
    actions = flat.astype(np.int64)
    if not np.array_equal(actions, flat):
        raise BadAnswer(f"the answer's actions are not integers: {flat.tolist()[:8]}")
    return actions


def _info(data: bytes) -> str:
    """The server's own words: Seldon's ``status.info``, else the start of the body."""
    try:
        status = json.loads(data).get("status") or {}
        if isinstance(status, dict) and status.get("info"):
            return str(status["info"])
    except (ValueError, AttributeError):
        pass
    return data[:200].decode(errors="replace").strip()
