"""Seldon's REST protocol over one kept-alive HTTP connection per client.

``http.client`` from the standard library: a persistent connection costs one TCP
handshake per runner instead of one per step, and nothing else in the agent needs a
dependency. A server that closes after each answer (seldon-core's gunicorn sync
worker does) is reconnected transparently.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cartpole.remote.client import Reply, RetryPolicy
from cartpole.remote.errors import AuthError, BadAnswer, ServerError
from cartpole.remote.target import Target

PREDICT, FEEDBACK = "/api/v1.0/predictions", "/api/v1.0/feedback"
BUSY = {502, 503, 504}  # a gateway or a model still starting: worth a retry


class _Busy(Exception):
    """An answer that says "try again soon"."""


class RestClient:
    def __init__(self, target: Target, retry: RetryPolicy | None = None,
                 stop: Callable[[], bool] | None = None) -> None:
        self.target, self.retry, self.stop = target, retry or RetryPolicy(), stop
        self._conn: http.client.HTTPConnection | None = None
        self._headers = {"Content-Type": "application/json", **target.headers()}

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
        url = self.target.url(path)

        def attempt() -> tuple[int, bytes]:
            conn = self._connection()
            conn.request("POST", self.target.prefix + path, body, self._headers)
            response = conn.getresponse()
            data = response.read()
            if response.status in BUSY:
                raise _Busy(f"HTTP {response.status} {_info(data)}".strip())
            return response.status, data

        status, data = self.retry.call(
            f"cannot reach {url}", attempt, (OSError, http.client.HTTPException, _Busy),
            reset=self._drop, stop=self.stop)
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

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            t = self.target
            if t.tls:
                self._conn = http.client.HTTPSConnection(
                    t.host, t.port, timeout=self.retry.timeout,
                    context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(t.host, t.port,
                                                        timeout=self.retry.timeout)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
