"""schemathesis over ``/openapi.json``: every operation of ``cartpole serve``, every check.

The real ASGI app, in this process (``schemathesis.openapi.from_asgi``), through
schemathesis's own engine, as its command line runs it: every phase (examples,
coverage, fuzzing, stateful), positive and negative data, all checks (server errors,
status codes, content types, response schemas, schema-valid requests accepted and
schema-violating ones rejected, undeclared methods answered 405 with ``Allow``, auth
enforced). Seeded and derandomised, so that a run is the same run every time.

Hooks make schemathesis send what the document describes:
- Form bodies. The document says a form's field ``json=`` holds the message as JSON
  (``encoding.contentType``), as Seldon's client posts it. schemathesis 4 does not
  generate such forms faithfully (its examples phase spreads the object over
  ``json[data][ndarray][0][0]=``..., and it counts forms as schema-violating that are
  valid once their field is JSON), so it generates JSON bodies only, and the hook sends
  every other message case in the form envelope instead: the same message, as
  ``json=<the JSON>`` with the form's Content-Type. Both envelopes are fuzzed, valid
  and invalid messages alike, with the same checks. (A failure's curl line shows such
  a body as its JSON, beside the form's Content-Type.)
- Tensors. In schema-valid cases, a tensor's shape is made to fit its values: the one
  rule JSON Schema cannot state (the document says it in words). Schema-violating
  cases are sent as generated.

413 counts as a rejection of schema-violating data: the document caps a request at
MAX_ROWS observations, and more is 413 Content Too Large.
"""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.generation import GenerationMode
from schemathesis.transport.asgi import ASGI_TRANSPORT
from schemathesis.transport.requests import REQUESTS_TRANSPORT

from cartpole.serving.server import build_app
from tests.serving.asgi import asgi_request
from tests.serving.live import running

FORM = "application/x-www-form-urlencoded"
# schemathesis's default for negative_data_rejection, and 413 (see above)
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
            "429", "5xx"]
MAX_EXAMPLES = 5


def _fit_seldon(message: Any, width: int) -> None:
    data = message.get("data") if isinstance(message, dict) else None
    tensor = data.get("tensor") if isinstance(data, dict) else None
    if isinstance(tensor, dict) and isinstance(tensor.get("values"), list):
        n = max(1, len(tensor["values"]) // width)
        tensor["values"] = tensor["values"][:n * width]
        tensor["shape"] = [width] if tensor.get("shape") == [width] and n == 1 else [n, width]


def _fit_v2(message: Any, width: int) -> None:
    inputs = message.get("inputs") if isinstance(message, dict) else None
    for tensor in inputs if isinstance(inputs, list) else ():
        data = tensor.get("data") if isinstance(tensor, dict) else None
        if not isinstance(data, list) or not data:
            continue
        if isinstance(data[0], list):  # rows
            tensor["shape"] = [len(data), width]
        else:
            n = max(1, len(data) // width)
            tensor["data"] = data[:n * width]
            tensor["shape"] = [n, width]


@pytest.fixture
def form_envelope():
    """JSON bodies of the cases the hook marks go out as ``json=<the JSON>``, over ASGI
    and over HTTP alike."""
    originals = {transport: transport.get_first_matching_media_type("application/json")[1]
                 for transport in (ASGI_TRANSPORT, REQUESTS_TRANSPORT)}

    def envelope(original: Any) -> Any:
        def serializer(ctx: Any, value: Any) -> dict[str, Any]:
            if (ctx.case.headers or {}).get("Content-Type") == FORM:
                return {"data": urlencode({"json": json.dumps(value)})}
            return original(ctx, value)
        return serializer

    for transport, original in originals.items():
        transport.serializer("application/json")(envelope(original))
    yield
    for transport, original in originals.items():
        transport.serializer("application/json")(original)


def _hooks(schema: Any, width: int) -> None:
    """Register the hooks the module docstring describes on ``schema``."""
    forms: dict[str, dict[str, Any]] = {}  # operation label: its form's encoding

    @schema.hook
    def before_init_operation(context: Any, operation: Any) -> None:
        # schemathesis generates JSON bodies only; map_case sends some as forms
        for body in list(operation.body):
            if body.media_type == FORM:
                forms[operation.label] = body.definition.get("encoding", {})
                operation.body.items.remove(body)

    @schema.hook
    def map_case(context: Any, case: Any) -> Any:
        if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
            _fit_seldon(case.body, width)
            _fit_v2(case.body, width)
            if case.query and isinstance(case.query.get("json"), str):  # ?json=, as JSON
                message = json.loads(case.query["json"])  # schema-valid: JSON
                _fit_seldon(message, width)
                case.query["json"] = json.dumps(message)
        encoding = forms.get(case.operation.label)
        if encoding is None or case.media_type != "application/json" or case.body is None:
            return case
        try:
            text = json.dumps(case.body)
        except TypeError:  # raw bytes, sent as they are
            return case
        if zlib.crc32(text.encode()) % 2:  # every other message, as it happens
            assert encoding["json"]["contentType"] == "application/json"
            case.headers = {**(case.headers or {}), "Content-Type": FORM}
        return case

    @schema.hook
    def before_add_examples(context: Any, examples: list[Any]) -> None:
        examples[:] = [map_case(context, case) for case in examples]


def _fuzz(app: Any, headers: dict[str, str] | None = None,
          over: str = "asgi") -> dict[str, Any]:
    """One schemathesis run over the app, called as ASGI in this process (``over``
    "asgi") or over HTTP through the built-in server (``over`` "http"); its failures,
    errors and what it covered."""
    if over == "http":
        with running(app) as port:
            return _fuzz_schema(app, headers, f"http://127.0.0.1:{port}")
    return _fuzz_schema(app, headers, None)


def _fuzz_schema(app: Any, headers: dict[str, str] | None, url: str | None) -> dict[str, Any]:
    config = SchemathesisConfig.from_dict({
        "seed": 20260101,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "suppress-health-check": ["too_slow"],  # a slow machine is no finding
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
        "headers": headers or {},
    })
    if url is None:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config,
                                                headers=headers or {})
    else:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config,
                                               headers=headers or {})
        schema.config.update(base_url=url)
    _hooks(schema, app.graph.obs_dim)
    failures: dict[tuple[str, str, str], str] = {}
    errors, labels, statuses, forms = [], set(), set(), 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            labels.add(event.recorder.label)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses.add(interaction.response.status_code)
                forms += interaction.request.headers.get("Content-Type") == [FORM]
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status == Status.FAILURE:
                        info = node.failure_info
                        key = (event.recorder.label, node.name, info.failure.title)
                        failures.setdefault(key, f"{info.code_sample}\n{info.failure.message}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(str(getattr(event, "value", None) or event.exception))
    # schemathesis leaves out the operation that serves the document itself
    operations = {f"{method.upper()} {path}" for path, ops in
                  json.loads(app.openapi)["paths"].items() for method in ops
                  if path != "/openapi.json"}
    return {"failures": failures, "errors": errors, "missed": operations - labels,
            "statuses": statuses, "forms": forms}


def _report(result: dict[str, Any]) -> str:
    return "\n\n".join(f"{label}: {check}: {title}\n{sample}"
                       for (label, check, title), sample in result["failures"].items())


@pytest.mark.usefixtures("form_envelope")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float32 overflows at its limits
@pytest.mark.parametrize(("graph", "over"), [("one-model", "http"),
                                            ("router-with-api-key", "http"),
                                            ("one-model", "asgi")])
def test_schemathesis_finds_nothing(model_file, graph, over):
    if graph == "one-model":
        app, headers = build_app([model_file]), None
    else:  # the router's schemas, and the API key's security schemes
        app = build_app([model_file, model_file], router="epsilon-greedy", seed=0,
                        api_key="k")
        headers = {"Authorization": "Bearer k"}
    result = _fuzz(app, headers, over)
    assert not result["errors"], result["errors"]
    assert not result["missed"], f"operations never tested: {sorted(result['missed'])}"
    assert not result["failures"], _report(result)
    assert {200, 400, 404, 405} <= result["statuses"]
    assert result["forms"] > 50  # the form envelope was fuzzed too


def _request(app, method, path, body=b"", headers=(), query=b""):
    """One request through the ASGI interface: (status, headers, body)."""
    return asgi_request(app, method, path, body,
                        [(b"content-type", b"application/json"), *headers], query)


OBS = {"name": "obs", "datatype": "FP32", "shape": [1, 4], "data": [0, 0, 0, 0]}
INFER, FEEDBACK = "/v2/models/cartpole/infer", "/api/v1.0/feedback"
ROUTED = {"response": {"meta": {"routing": {"epsilon-greedy": 0}}}}


@pytest.mark.parametrize(("graph", "method", "path", "body", "extra", "status"), [
    # Undeclared methods: 405 with Allow, on V2 paths too (they were 404 there)
    ("one", "TRACE", "/metrics", None, {}, 405),
    ("one", "POST", "/v2/health/live", {}, {}, 405),
    ("one", "GET", INFER, None, {}, 405),
    # Unhandled exceptions, now 400s
    ("one", "POST", INFER, {"inputs": [{**OBS, "datatype": []}]}, {}, 400),
    ("one", "POST", INFER, {"inputs": [OBS], "parameters": {"temperature": "x"}}, {}, 400),
    ("router", "POST", FEEDBACK, {"reward": 1, "response": [1]}, {}, 400),
    ("router", "POST", "/v2/models/cartpole/feedback", {"reward": 1, "parameters": [1]}, {}, 400),
    ("one", "POST", INFER, {}, {"headers": [(b"inference-header-content-length", b"1e400")]},
     400),
    ("one", "POST", "/api/v1.0/predictions", None, {"query": b"mode=\xff"}, 400),
    # Schema-violating data the server took
    ("one", "POST", "/api/v1.0/predictions", {"data": {"ndarray": [[True, False, "1", 0]]}}, {},
     400),
    ("one", "POST", FEEDBACK, {"reward": "1"}, {}, 400),
    ("router", "POST", FEEDBACK, {"reward": 1, "response": {"meta": {"routing": {
        "epsilon-greedy": 0.5}}}}, {}, 400),
    ("router", "POST", FEEDBACK, {"reward": 1e300, **ROUTED}, {}, 400),
    ("one", "POST", INFER, {"inputs": [OBS], "outputs": None}, {}, 400),
    ("one", "POST", INFER, {"inputs": [OBS], "id": 5}, {}, 400),
    ("one", "POST", INFER, {"inputs": [{**OBS, "name": "x"}]}, {}, 400),
    ("one", "POST", "/api/v1.0/predictions", {"data": {"ndarray": [[0, 0, 0, 0]]}},
     {"query": b"temperature="}, 400),
    ("one", "POST", "/api/v1.0/predictions", {"data": {"ndarray": [[0, 0, 0, 0]]}},
     {"query": b"mode=greedy&mode=sample"}, 400),
    # Schema-valid data the server refused
    ("one", "POST", INFER, {"inputs": [{**OBS, "shape": [1.0, 4]}]}, {}, 200),
    ("router", "POST", FEEDBACK, {"reward": 1, "response": {"meta": {"routing": {
        "epsilon-greedy": 1.0}}}}, {}, 200),
])
def test_what_the_fuzzing_found(model_file, graph, method, path, body, extra, status):
    """Each failure schemathesis found (or reading for it did), as one request."""
    app = build_app([model_file]) if graph == "one" else build_app(
        [model_file, model_file], router="epsilon-greedy", seed=0)
    payload = b"" if body is None else json.dumps(body).encode()
    got, headers, reply = _request(app, method, path, payload, **extra)
    assert got == status, reply
    if status == 405:
        assert headers[b"allow"] in (b"GET", b"POST")


def test_huge_rewards_do_not_break_a_router(model_file):
    """Rewards of +-1e308 made the bandit's running mean inf - inf = NaN, and every
    prediction after it failed. Rewards are float32 now, as in Seldon's protocol."""
    app = build_app([model_file, model_file], router="epsilon-greedy", seed=0)
    for reward in (3.4e38, -3.4e38) * 2:
        for branch in (0, 1):
            feedback = {"reward": reward, "response": {"meta": {"routing": {
                "epsilon-greedy": branch}}}}
            assert _request(app, "POST", FEEDBACK, json.dumps(feedback).encode())[0] == 200
    message = json.dumps({"data": {"ndarray": [[0, 0, 0, 0]]}}).encode()
    assert _request(app, "POST", "/api/v1.0/predictions", message)[0] == 200


def test_tiny_temperatures_give_probabilities_not_nan(model_file):
    query = b"distribution=1&temperature=5e-324"
    message = json.dumps({"data": {"ndarray": [[0.1, -0.2, 0.3, 0.4]]}}).encode()
    status, _, reply = _request(build_app([model_file]), "POST", "/api/v1.0/predictions",
                                message, query=query)
    probabilities = json.loads(reply)["data"]["probabilities"][0]
    assert status == 200 and sorted(probabilities) == [0.0, 1.0]
