"""``cartpole serve``'s HTTP app: a plain ASGI callable, no framework.

``make bench-serve-stacks`` measures why: it serves the same model with FastAPI,
Starlette and this plain ASGI app (orjson, uvicorn) side by side, and both framework
rows answer fewer requests per second than this one, FastAPI far fewer
(docs/benchmarks.md has the figures).

Routes: every one seldon-core-microservice 1.18 answers for a model or a router, plus
metrics and docs:

    POST      /api/v1.0/predictions  /api/v0.1/predictions   ?mode=greedy|sample&...
    GET|POST  /predict
    POST      /api/v1.0/feedback  /api/v0.1/feedback         {"reward": r, "response": ...}
    GET|POST  /send-feedback
    GET|POST  /route                 a router's choice of branch, as [[branch]]
    GET       /metadata  /api/v1.0/metadata
    GET       /health/ping  /health/status  /api/v1.0/health/status
    GET       /metrics  /openapi.json  /docs

and the Open Inference Protocol (V2) under ``/v2`` (``v2.py``).

As seldon-core's wrapper does, a request's message is its JSON body, or the form
field ``json=`` (``application/x-www-form-urlencoded``), or the query's ``json=``.
A path under a gateway prefix, ``/seldon/<namespace>/<deployment>/...`` or the
``path_prefix`` given, is answered as the path after it.

``/openapi.json`` describes this app as it is (its model, router and API key), and the
app keeps to it: a method a path does not take is a 405 with an ``Allow`` header, and
a query parameter given twice is a 400. ``tests/serving/test_fuzz.py`` holds it to the
document with schemathesis.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from cartpole.serving import codec, v2
from cartpole.serving.errors import BadRequest, ServingError, TooLarge
from cartpole.serving.graph import Graph
from cartpole.serving.keys import key_matches
from cartpole.serving.openapi import docs_html, document
from cartpole.serving.seldon_errors import seldon_error
from cartpole.serving.v2 import MethodNotAllowed

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
MAX_BODY = 1 << 20  # bytes
# No API key needed: probes, metrics and the page that lists the routes
OPEN = {"/health/ping", "/health/status", "/api/v1.0/health/status"}  # no API key needed
FORM = b"application/x-www-form-urlencoded"
JSON = b"application/json"
Handler = Callable[[bytes, dict[str, list[str]]], Any]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    handler: Handler  # returns a JSON-ready value, or the payload as bytes
    endpoint: str  # the metrics label: one per endpoint, whatever its alias
    message: bool = False  # takes a Seldon message (body, form or ?json=)
    content_type: bytes = JSON


class NotFound(ServingError):
    status = 404


class Unauthorized(ServingError):
    status = 401


class ServeApp:
    def __init__(self, graph: Graph, api_key: str | None = None,
                 max_body: int = MAX_BODY, path_prefix: str = "",
                 model_name: str = "cartpole") -> None:
        self.graph, self.api_key, self.max_body = graph, api_key, max_body
        self.path_prefix = path_prefix.rstrip("/")
        self.v2 = v2.V2(graph, model_name)
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
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        meta = graph.policies[0].metadata
        self.tags = {"model_version": f"{meta.get('group', '?')}/{meta.get('trial', '?')}"
                                      f"@{graph.policies[0].digest}",
                     "score": meta.get("score")}
        post, get, both = frozenset({"POST"}), frozenset({"GET"}), frozenset({"GET", "POST"})
        predict = "/api/v1.0/predictions"
        feedback = "/api/v1.0/feedback"
        self.routes: dict[str, Route] = {
            predict: Route(post, self.predictions, predict, message=True),
            "/api/v0.1/predictions": Route(post, self.predictions, predict, message=True),
            "/predict": Route(both, self.predictions, predict, message=True),
            feedback: Route(post, self.feedback, feedback, message=True),
            "/api/v0.1/feedback": Route(post, self.feedback, feedback, message=True),
            "/send-feedback": Route(both, self.feedback, feedback, message=True),
            "/route": Route(both, self.route, "/route", message=True),
            "/metadata": Route(get, self.metadata, "/metadata"),
            "/api/v1.0/metadata": Route(get, self.metadata, "/metadata"),
            "/health/ping": Route(get, lambda body, query: "pong", "/health/ping"),
            "/health/status": Route(get, self.status, "/health/status"),
            "/api/v1.0/health/status": Route(get, self.status, "/health/status"),
            "/openapi.json": Route(get, lambda body, query: self.openapi, "/openapi.json"),
            "/metrics": Route(get, lambda body, query: generate_latest(self.registry),
                              "/metrics", content_type=b"text/plain; version=0.0.4"),
            "/docs": Route(get, lambda body, query: self.docs, "/docs",
                           content_type=b"text/html; charset=utf-8"),
        }
        doc = document(graph, model_name, self.v2.version, secured=bool(api_key))
        self.openapi, self.docs = orjson.dumps(doc), docs_html(doc)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path, started = self._local_path(scope["path"]), time.perf_counter()
        if path == "/v2" or path.startswith("/v2/"):
            await self._v2(scope, receive, send, path, started)
            return
        endpoint, content_type, allow = "other", JSON, None
        try:
            route = self.routes.get(path)
            if route is None:
                raise NotFound(f"no endpoint {path}; see /openapi.json")
            endpoint = route.endpoint
            if scope["method"] not in route.methods:
                allow = route.methods
                raise MethodNotAllowed(path, allow)
            if self.api_key and path not in OPEN:
                self._check_key(scope)
            query = _query(scope)
            body = await self._body(receive) if scope["method"] == "POST" else b""
            if route.message:
                body = _message(scope, body, query)
            result = route.handler(body, query)
            status, content_type = 200, route.content_type
            payload = result if isinstance(result, bytes) else orjson.dumps(
                result, option=orjson.OPT_SERIALIZE_NUMPY)
        except ServingError as exc:
            status, payload = exc.status, orjson.dumps(seldon_error(exc))
        self._count(endpoint, status)
        if endpoint == "/api/v1.0/predictions":
            self.latency.observe(time.perf_counter() - started)
        await _reply(send, status, payload, content_type, allow)

    async def _v2(self, scope: dict[str, Any], receive: Receive, send: Send, path: str,
                  started: float) -> None:
        endpoint, allow = "/v2/infer" if path.endswith("/infer") else "/v2", None
        try:
            methods = self.v2.allowed(path)
            if scope["method"] not in methods:
                allow = methods
                raise MethodNotAllowed(path, allow)
            if self.api_key and not path.startswith("/v2/health/"):
                self._check_key(scope)
            message = None
            if scope["method"] == "POST":
                body = await self._body(receive)
                header = dict(scope.get("headers") or []).get(
                    b"inference-header-content-length")
                if header is None:
                    message = _json(body)
                else:
                    head, blob = v2.split_binary(body, _length(header))
                    message = _json(head)
                    v2.attach_binary(message, blob)
            status, result = self.v2.answer(scope["method"], path, message)
            payload = orjson.dumps(result)
            if endpoint == "/v2/infer":
                self._count_answer(result)
        except ServingError as exc:
            status, payload = exc.status, orjson.dumps(v2.error(exc))
        self._count(endpoint, status)
        if endpoint == "/v2/infer":
            self.latency.observe(time.perf_counter() - started)
        await _reply(send, status, payload, JSON, allow)

    def _count_answer(self, result: dict[str, Any]) -> None:
        """A V2 answer's actions and branch, into the same counters as v1's."""
        for output in result.get("outputs", ()):
            if output.get("name") == "action":
                for action in output.get("data", ()):
                    self._child(self.actions, str(action)).inc()
        for branch in ((result.get("parameters") or {}).get("routing") or {}).values():
            self._child(self.routed, str(branch)).inc()

    def _count(self, endpoint: str, status: int) -> None:
        self._child(self.requests, endpoint, str(status)).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus_client's ``labels`` costs
        microseconds per call, a fifth of a prediction's own time."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _local_path(self, path: str) -> str:
        """The path without the ``path_prefix``, or a gateway's ``/seldon/<ns>/<name>``
        (or ``/seldon/<name>``, as Seldon's client calls it without a namespace)."""
        if self.path_prefix and (path == self.path_prefix
                                 or path.startswith(self.path_prefix + "/")):
            return path[len(self.path_prefix):] or "/"
        if path.startswith("/seldon/"):
            parts = path.split("/")  # "", "seldon", namespace, name, ...
            for skip in (4, 3):
                local = "/" + "/".join(parts[skip:])
                if (local in self.routes or local in ("/metrics", "/docs", "/v2")
                        or local.startswith("/v2/")):
                    return local
        return path

    # -- endpoints ------------------------------------------------------------------
    def predictions(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        mode = _one(query, "mode", "greedy")
        temperature = _number(_one(query, "temperature", "1"), "temperature")
        if not (math.isfinite(temperature) and temperature > 0):
            raise BadRequest(f"temperature must be a number > 0, got {temperature}")
        distribution = _one(query, "distribution", "0")
        if distribution not in DISTRIBUTION:
            raise BadRequest(f"distribution must be one of {', '.join(DISTRIBUTION)}, "
                             f"got {distribution!r}")
        rows = codec.observations(_json(body), self.graph.obs_dim)
        answer = self.graph.predict(rows, mode, temperature)
        for action in answer.actions.tolist():
            self._child(self.actions, str(action)).inc()
        if answer.branch is not None:
            self._child(self.routed, str(answer.branch)).inc()
        return codec.response(answer, self.graph.unit, self.tags,
                              DISTRIBUTION[distribution], temperature)

    def feedback(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        unit = self.graph.unit if self.graph.bandit is not None else None
        reward, routing = codec.feedback_parts(_json(body), unit)
        self.graph.feedback(reward, routing)
        return {"data": {"names": [], "ndarray": []}, "meta": {}}

    def route(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        """A router's answer: the branch it would send these observations to."""
        if self.graph.router is None:
            raise NotFound("/route: this server has one model and no router")
        branch = self.graph.route(codec.observations(_json(body), self.graph.obs_dim))
        self._child(self.routed, str(branch)).inc()
        return {"data": {"names": [], "ndarray": [[branch]]}, "meta": {"tags": self.tags}}

    def metadata(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        """Seldon's model metadata: name, versions, platform, input and output tensors."""
        meta = self.graph.policies[0].metadata
        names = [f"obs_{i}" for i in range(self.graph.obs_dim)]
        return {"name": self.graph.router or str(meta.get("trial", "model")),
                "versions": [self.tags["model_version"]],
                "platform": "cartpole",
                "inputs": [{"messagetype": "tensor",
                            "schema": {"names": names, "shape": [self.graph.obs_dim]}}],
                "outputs": [{"messagetype": "tensor",
                             "schema": {"names": ["action"], "shape": [1]}}]}

    def status(self, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
        state = self.graph.bandit.state() if self.graph.bandit else None
        return {"status": "ok", "models": len(self.graph.policies),
                "router": self.graph.router, "bandit": state, **self.tags}

    # -- helpers --------------------------------------------------------------------
    def _check_key(self, scope: dict[str, Any]) -> None:
        headers = dict(scope.get("headers") or [])
        if not key_matches(self.api_key, headers.get(b"authorization", b"").decode("latin-1"),
                           headers.get(b"x-api-key", b"").decode("latin-1")):
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


DISTRIBUTION = {"0": False, "1": True, "false": False, "true": True}


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    """The query's parameters; one given empty (``?temperature=``) is there, as ""."""
    raw = scope.get("query_string", b"")
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}


def _one(query: dict[str, list[str]], name: str, default: str) -> str:
    """The value of query parameter ``name``; BadRequest if it is given more than once."""
    values = query.get(name)
    if values is None:
        return default
    if len(values) > 1:
        raise BadRequest(f"query parameter {name} given {len(values)} times")
    return values[0]


def _message(scope: dict[str, Any], body: bytes, query: dict[str, list[str]]) -> bytes:
    """A Seldon message as seldon-core's wrapper reads it: ``?json=``, the form field
    ``json=``, or the JSON body."""
    if "json" in query:
        return _one(query, "json", "").encode()
    headers = dict(scope.get("headers") or [])
    if headers.get(b"content-type", b"").split(b";")[0].strip().lower() == FORM:
        form = parse_qs(body.decode(errors="replace"))
        if "json" not in form:
            raise BadRequest("form data needs a field json=<message>")
        return _one(form, "json", "").encode()
    return body


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


def _length(header: bytes) -> int:
    """The binary extension's Inference-Header-Content-Length: a whole number."""
    try:
        return int(header.decode("latin-1"))
    except ValueError:
        raise BadRequest(f"Inference-Header-Content-Length must be a whole number, got "
                         f"{header.decode('latin-1')!r}") from None


async def _reply(send: Send, status: int, payload: bytes, content_type: bytes,
                 allow: frozenset[str] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())]
    if allow is not None:  # a 405 says which methods the path takes (RFC 9110)
        headers.append((b"allow", ", ".join(sorted(allow)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
