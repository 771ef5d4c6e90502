"""``cartpole serve``'s HTTP app: a plain ASGI callable, no framework.

``make bench-serve-stacks`` measures why: it serves the same model with FastAPI,
Starlette and this plain ASGI app (orjson, uvicorn) side by side, and both framework
rows answer fewer requests per second than this one, FastAPI far fewer
(docs/benchmarks.md has the figures).

Routes (Seldon's REST protocol, plus health, metrics and docs):

    POST /api/v1.0/predictions   ?mode=greedy|sample&temperature=T&distribution=1
    POST /api/v1.0/feedback      {"reward": r, "response": {"meta": {"routing": ...}}}
    GET  /health/ping  /health/status  /metrics  /openapi.json  /docs
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from cartpole.serving import codec
from cartpole.serving.errors import BadRequest, ServingError, TooLarge
from cartpole.serving.graph import Graph
from cartpole.serving.openapi import DOCS_HTML, OPENAPI
from cartpole.serving.seldon_errors import seldon_error

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
MAX_BODY = 1 << 20  # bytes
OPEN = {"/health/ping", "/health/status"}  # answered without the API key


class NotFound(ServingError):
    status = 404


class MethodNotAllowed(ServingError):
    status = 405


class Unauthorized(ServingError):
    status = 401


class ServeApp:
    def __init__(self, graph: Graph, api_key: str | None = None,
                 max_body: int = MAX_BODY) -> None:
        self.graph, self.api_key, self.max_body = graph, api_key, max_body
        self.registry = CollectorRegistry()
        self.requests = Counter("cartpole_requests", "Requests by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("cartpole_request_seconds", "Prediction latency",
                                 registry=self.registry,
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25))
        self.actions = Counter("cartpole_actions", "Actions returned", ["action"],
                               registry=self.registry)
        self.routed = Counter("cartpole_routed", "Requests per branch", ["branch"],
                              registry=self.registry)
        meta = graph.policies[0].metadata
        self.tags = {"model_version": f"{meta.get('group', '?')}/{meta.get('trial', '?')}"
                                      f"@{graph.policies[0].digest}",
                     "score": meta.get("score")}
        self.routes: dict[str, tuple[str, Callable[..., Any]]] = {
            "/api/v1.0/predictions": ("POST", self.predictions),
            "/api/v1.0/feedback": ("POST", self.feedback),
            "/health/ping": ("GET", lambda body, query: "pong"),
            "/health/status": ("GET", self.status),
            "/openapi.json": ("GET", lambda body, query: OPENAPI),
        }

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path, started = scope["path"], time.perf_counter()
        try:
            if path == "/metrics":
                await _reply(send, 200, generate_latest(self.registry),
                             b"text/plain; version=0.0.4")
                return
            if path == "/docs":
                await _reply(send, 200, DOCS_HTML, b"text/html; charset=utf-8")
                return
            route = self.routes.get(path)
            if route is None:
                raise NotFound(f"no endpoint {path}; see /openapi.json")
            if scope["method"] != route[0]:
                raise MethodNotAllowed(f"{path} takes {route[0]}")
            if self.api_key and path not in OPEN:
                self._check_key(scope)
            body = await self._body(receive) if route[0] == "POST" else b""
            result = route[1](body, parse_qs(scope.get("query_string", b"").decode()))
            status, payload = 200, orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)
        except ServingError as exc:
            status, payload = exc.status, orjson.dumps(seldon_error(exc))
        self.requests.labels(path if path in self.routes else "other", str(status)).inc()
        if path == "/api/v1.0/predictions":
            self.latency.observe(time.perf_counter() - started)
        await _reply(send, status, payload, b"application/json")

    # -- endpoints ------------------------------------------------------------------
    def predictions(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        mode = query.get("mode", ["greedy"])[0]
        temperature = _number(query.get("temperature", ["1.0"])[0], "temperature")
        answer = self.graph.predict(codec.observations(_json(body)), mode, temperature)
        for action in answer.actions.tolist():
            self.actions.labels(str(action)).inc()
        if answer.branch is not None:
            self.routed.labels(str(answer.branch)).inc()
        return codec.response(answer, self.graph.unit, self.tags,
                              query.get("distribution", ["0"])[0] in ("1", "true"),
                              temperature)

    def feedback(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        reward, routing = codec.feedback_parts(_json(body))
        self.graph.feedback(reward, routing)
        return {"data": {"names": [], "ndarray": []}, "meta": {}}

    def status(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        state = self.graph.bandit.state() if self.graph.bandit else None
        return {"status": "ok", "models": len(self.graph.policies),
                "router": self.graph.router, "bandit": state, **self.tags}

    # -- helpers --------------------------------------------------------------------
    def _check_key(self, scope: dict[str, Any]) -> None:
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key", b"").decode()
        auth = headers.get(b"authorization", b"").decode()
        if auth.lower().startswith("bearer "):
            given = auth[7:]
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise Unauthorized("missing or wrong API key (Authorization: Bearer <key>)")

    async def _body(self, receive: Receive) -> bytes:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise TooLarge(f"request body over {self.max_body} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _json(body: bytes) -> Any:
    if not body:
        raise BadRequest("empty request body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON") from None


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {text!r}") from None


async def _reply(send: Send, status: int, payload: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
