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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from cartpole.serving import codec, v2
from cartpole.serving.errors import BadRequest, ServingError, TooLarge
from cartpole.serving.graph import Graph
from cartpole.serving.keys import key_matches
from cartpole.serving.metrics import ServeMetrics
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


@dataclass(slots=True)
class Request:
    """One HTTP request, as ``ServeApp.respond`` takes it."""

    method: str
    path: str
    query: bytes = b""  # the raw query string, after "?"
    headers: dict[bytes, bytes] = field(default_factory=dict)  # lower-case names
    body: bytes | None = b""  # None: longer than the app's max_body


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = JSON
    allow: frozenset[str] | None = None  # a 405's Allow header (RFC 9110)

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", self.content_type),
                   (b"content-length", str(len(self.body)).encode())]
        if self.allow is not None:
            headers.append((b"allow", ", ".join(sorted(self.allow)).encode()))
        return headers


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
        self.metrics = ServeMetrics()
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
            "/metrics": Route(get, lambda body, query: self.metrics.exposition(),
                              "/metrics", content_type=b"text/plain; version=0.0.4"),
            "/docs": Route(get, lambda body, query: self.docs, "/docs",
                           content_type=b"text/html; charset=utf-8"),
        }
        doc = document(graph, model_name, self.v2.version, secured=bool(api_key))
        self.openapi, self.docs = orjson.dumps(doc), docs_html(doc)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """The app as ASGI (uvicorn, ``serve --http-server uvicorn``, the tests): the body
        is read, then answered by ``respond``."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        headers = dict(scope.get("headers") or [])
        body = await self._body(receive)
        answer = self.respond(Request(scope["method"], scope["path"],
                                      scope.get("query_string", b""), headers, body))
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": answer.headers()})
        await send({"type": "http.response.body", "body": answer.body})

    def respond(self, request: Request) -> Response:
        """The answer to one request: every route, error and metric of the app, with no
        I/O (``http_server`` and ``__call__`` do that)."""
        path, started = self._local_path(request.path), time.perf_counter()
        if path == "/v2" or path.startswith("/v2/"):
            return self._v2(request, path, started)
        endpoint, content_type, allow = "other", JSON, None
        try:
            route = self.routes.get(path)
            if route is None:
                raise NotFound(f"no endpoint {path}; see /openapi.json")
            endpoint = route.endpoint
            if request.method not in route.methods:
                allow = route.methods
                raise MethodNotAllowed(path, allow)
            if self.api_key and path not in OPEN:
                self._check_key(request.headers)
            query = _query(request.query)
            body = self._posted(request) if request.method == "POST" else b""
            if route.message:
                body = _message(request.headers, body, query)
            result = route.handler(body, query)
            status, content_type = 200, route.content_type
            payload = result if isinstance(result, bytes) else orjson.dumps(
                result, option=orjson.OPT_SERIALIZE_NUMPY)
        except ServingError as exc:
            status, payload = exc.status, orjson.dumps(seldon_error(exc))
        self.metrics.request(endpoint, status)
        if endpoint == "/api/v1.0/predictions":
            self.metrics.latency(time.perf_counter() - started)
        return Response(status, payload, content_type, allow)

    def _v2(self, request: Request, path: str, started: float) -> Response:
        endpoint, allow = "/v2/infer" if path.endswith("/infer") else "/v2", None
        try:
            methods = self.v2.allowed(path)
            if request.method not in methods:
                allow = methods
                raise MethodNotAllowed(path, allow)
            if self.api_key and not path.startswith("/v2/health/"):
                self._check_key(request.headers)
            message = None
            if request.method == "POST":
                body = self._posted(request)
                header = request.headers.get(b"inference-header-content-length")
                if header is None:
                    message = _json(body)
                else:
                    head, blob = v2.split_binary(body, _length(header))
                    message = _json(head)
                    v2.attach_binary(message, blob)
            status, result = self.v2.answer(request.method, path, message)
            payload = orjson.dumps(result)
            if endpoint == "/v2/infer":
                self._count_answer(result)
        except ServingError as exc:
            status, payload = exc.status, orjson.dumps(v2.error(exc))
        self.metrics.request(endpoint, status)
        if endpoint == "/v2/infer":
            self.metrics.latency(time.perf_counter() - started)
        return Response(status, payload, JSON, allow)

    def _count_answer(self, result: dict[str, Any]) -> None:
        """A V2 answer's actions and branch, into the same counters as v1's."""
        for output in result.get("outputs", ()):
            if output.get("name") == "action":
                self.metrics.action(output.get("data", ()))
        for branch in ((result.get("parameters") or {}).get("routing") or {}).values():
            self.metrics.branch(branch)

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
        mode, temperature, distribution = "greedy", 1.0, False
        if query:
            mode = _one(query, "mode", "greedy")
            temperature = _number(_one(query, "temperature", "1"), "temperature")
            if not (math.isfinite(temperature) and temperature > 0):
                raise BadRequest(f"temperature must be a number > 0, got {temperature}")
            flag = _one(query, "distribution", "0")
            if flag not in DISTRIBUTION:
                raise BadRequest(f"distribution must be one of {', '.join(DISTRIBUTION)}, "
                                 f"got {flag!r}")
            distribution = DISTRIBUTION[flag]
        rows = codec.observations(_json(body), self.graph.obs_dim)
        answer = self.graph.predict(rows, mode, temperature)
        self.metrics.action(answer.actions.tolist())
        if answer.branch is not None:
            self.metrics.branch(answer.branch)
        return codec.response(answer, self.graph.unit, self.tags, distribution, temperature)

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
        self.metrics.branch(branch)
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
    def _check_key(self, headers: dict[bytes, bytes]) -> None:
        if not key_matches(self.api_key, headers.get(b"authorization", b"").decode("latin-1"),
                           headers.get(b"x-api-key", b"").decode("latin-1")):
            raise Unauthorized("missing or wrong API key (Authorization: Bearer <key>)")

    def _posted(self, request: Request) -> bytes:
        if request.body is None:
            raise TooLarge(f"request body over {self.max_body} bytes")
        return request.body

    async def _body(self, receive: Receive) -> bytes | None:
        """The request's body, or None once it is longer than ``max_body``."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


DISTRIBUTION = {"0": False, "1": True, "false": False, "true": True}


def _query(raw: bytes) -> dict[str, list[str]]:
    """The query's parameters; one given empty (``?temperature=``) is there, as ""."""
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}


def _one(query: dict[str, list[str]], name: str, default: str) -> str:
    """The value of query parameter ``name``; BadRequest if it is given more than once."""
    values = query.get(name)
    if values is None:
        return default
    if len(values) > 1:
        raise BadRequest(f"query parameter {name} given {len(values)} times")
    return values[0]


def _message(headers: dict[bytes, bytes], body: bytes, query: dict[str, list[str]]) -> bytes:
    """A Seldon message as seldon-core's wrapper reads it: ``?json=``, the form field
    ``json=``, or the JSON body."""
    if "json" in query:
        return _one(query, "json", "").encode()
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


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
