"""The OpenAPI document of one ``cartpole serve`` app, and a page that lists it (no CDN).

The document is made for the app that serves it: the observation width, the model's
name and version, whether a router learns from feedback (and so needs the branch
back), and whether an API key guards it. Every request schema says what that server
accepts and every status it can answer is declared, so that a fuzzer (schemathesis, in
``tests/serving/test_fuzz.py``) can hold the server to it. One rule JSON Schema cannot
state is in the descriptions: a tensor's values fill its shape.

A path also answers under ``/seldon/<namespace>/<deployment>`` and under the server's
``--path-prefix``; a method a path does not list is a 405 with an ``Allow`` header.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from cartpole.serving.graph import Graph
from cartpole.serving.policy import MAX_ROWS

FLT_MAX = float(np.finfo(np.float32).max)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_SCHEMAS = "#/components/schemas/"
_OPEN = frozenset({"/health/ping", "/health/status", "/api/v1.0/health/status",
                   "/v2/health/live", "/v2/health/ready"})  # no API key


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + name}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _schemas(graph: Graph, model_name: str, version: str) -> dict[str, Any]:
    """The components: request and answer bodies of both protocols."""
    width, n_actions = graph.obs_dim, graph.policies[0].n_actions
    learns = graph.bandit is not None
    number = {"type": "number", "minimum": -FLT_MAX, "maximum": FLT_MAX,
              "description": "a float32: finite, |x| <= 3.4028235e38"}
    row = {"type": "array", "items": _ref("Number"), "minItems": width, "maxItems": width,
           "description": f"one observation: {width} numbers"}
    out_number = {"type": ["number", "null"],
                  "description": "null where float32 overflows (observations near its limits)"}
    out_rows = {"type": "array", "items": {"type": "array", "items": out_number,
                                           "minItems": n_actions, "maxItems": n_actions}}
    branch = {"type": "integer", "minimum": 0, "maximum": len(graph.policies) - 1}
    # Feedback teaches a learning router: it must say which branch answered.
    routing = ({"type": "object", "required": [graph.unit],
                "properties": {graph.unit: {**branch, "description": "the branch that answered"}}}
               if learns else {"type": "object", "description": "ignored: no router learns here"})
    seldon_feedback: dict[str, Any] = {
        "type": "object", "required": ["reward"],
        "properties": {"reward": _ref("Number"), "response": {
            "type": "object", "properties": {"meta": {
                "type": "object", "properties": {"routing": routing}}}}},
        "example": {"reward": 1.0, "response": {"meta": {"routing": {graph.unit: 0}}}}}
    if learns:
        seldon_feedback["required"] = ["reward", "response"]
        seldon_feedback["properties"]["response"]["required"] = ["meta"]
        seldon_feedback["properties"]["response"]["properties"]["meta"]["required"] = ["routing"]
    v2_feedback: dict[str, Any] = {
        "type": "object", "required": ["reward"],
        "properties": {"reward": _ref("Number"),
                       "parameters": {"type": "object", "properties": {"routing": routing}}},
        "example": {"reward": 1.0, "parameters": {"routing": {graph.unit: 0}}}}
    if learns:
        v2_feedback["required"] = ["reward", "parameters"]
        v2_feedback["properties"]["parameters"]["required"] = ["routing"]
    tags = {"type": "object", "properties": {"model_version": {"type": "string"},
                                             "score": {"type": ["number", "null"]}}}
    v2_tensor_out = {"type": "object", "required": ["name", "datatype", "shape", "data"],
                     "properties": {"name": {"enum": ["action", "q_values", "probabilities"]},
                                    "datatype": {"enum": ["INT64", "FP32"]},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "data": {"type": "array", "items": {
                                        "type": ["number", "null"]}}}}
    meta_tensor = {"type": "object", "required": ["name", "datatype", "shape"],
                   "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                                  "shape": {"type": "array", "items": {"type": "integer"}}}}
    return {
        "Number": number,
        "Observation": row,
        "Observations": {
            "description": f"one observation, or 1 to {MAX_ROWS} of them (413 beyond)",
            "oneOf": [_ref("Observation"), {"type": "array", "items": _ref("Observation"),
                                            "minItems": 1, "maxItems": MAX_ROWS}]},
        "SeldonTensor": {
            "type": "object", "required": ["shape", "values"],
            "description": "shape [n, width] (or [width]); values holds its n * width numbers, "
                           "row after row",
            "properties": {
                "shape": {"oneOf": [
                    {"type": "array", "prefixItems": [{"const": width}],
                     "minItems": 1, "maxItems": 1},
                    {"type": "array", "prefixItems": [
                        {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
                        {"const": width}], "minItems": 2, "maxItems": 2}]},
                "values": {"type": "array", "items": _ref("Number"), "minItems": width,
                           "maxItems": MAX_ROWS * width}}},
        "SeldonMessage": {
            "type": "object", "required": ["data"],
            "description": "observations in data.ndarray or data.tensor (one of them)",
            "properties": {"data": {
                "type": "object",
                "properties": {"ndarray": _ref("Observations"), "tensor": _ref("SeldonTensor")},
                "oneOf": [{"required": ["ndarray"]}, {"required": ["tensor"]}]}},
            "example": {"data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}},
        "SeldonFeedback": seldon_feedback,
        "SeldonPrediction": {
            "type": "object", "required": ["data", "meta"],
            "properties": {
                "data": {"type": "object", "required": ["names", "ndarray"], "properties": {
                    "names": {"const": ["action"]},
                    "ndarray": {"type": "array", "items": {
                        "type": "array", "items": {"type": "integer", "minimum": 0,
                                                   "maximum": n_actions - 1},
                        "minItems": 1, "maxItems": 1}},
                    "q_values": out_rows, "probabilities": out_rows}},
                "meta": {"type": "object", "required": ["tags"], "properties": {
                    "tags": tags,
                    "routing": {"type": "object", "additionalProperties": branch}}}}},
        "SeldonRoute": {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "object", "properties": {
                "ndarray": {"type": "array", "items": {"type": "array", "items": branch,
                                                       "minItems": 1, "maxItems": 1},
                            "minItems": 1, "maxItems": 1}}}}},
        "SeldonAccepted": {"type": "object", "required": ["data", "meta"], "properties": {
            "data": {"const": {"names": [], "ndarray": []}}, "meta": {"type": "object"}}},
        "SeldonMetadata": {
            "type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
            "properties": {"name": {"type": "string"},
                           "versions": {"type": "array", "items": {"type": "string"}},
                           "platform": {"type": "string"},
                           "inputs": {"type": "array"}, "outputs": {"type": "array"}}},
        "SeldonStatus": {
            "type": "object", "required": ["status", "models", "router"],
            "properties": {"status": {"const": "ok"}, "models": {"type": "integer"},
                           "router": {"type": ["string", "null"]},
                           "bandit": {"type": ["object", "null"]}}},
        "SeldonError": {
            "type": "object", "required": ["status"],
            "description": "seldon-core's error shape",
            "properties": {"status": {
                "type": "object", "required": ["status", "info", "code", "reason"],
                "properties": {"status": {"const": 1}, "info": {"type": "string"},
                               "code": {"type": "integer"},
                               "reason": {"enum": ["MICROSERVICE_BAD_DATA",
                                                   "MICROSERVICE_INTERNAL_ERROR"]}}}}},
        "InferInput": {
            "type": "object", "required": ["name", "datatype", "shape", "data"],
            "description": "shape [n, width]; data holds its n * width numbers, flat or as "
                           "rows. With the binary extension, the numbers follow the JSON "
                           "instead (see the operation's description)",
            "properties": {
                "name": {"const": "obs"},
                "datatype": {"enum": ["FP32", "FP64"]},
                "shape": {"type": "array", "prefixItems": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_ROWS}, {"const": width}],
                    "minItems": 2, "maxItems": 2},
                "data": {"oneOf": [
                    {"type": "array", "items": _ref("Number"), "minItems": width,
                     "maxItems": MAX_ROWS * width},
                    {"type": "array", "items": _ref("Observation"), "minItems": 1,
                     "maxItems": MAX_ROWS}]},
                "parameters": {"type": "object"}}},
        "InferRequest": {
            "type": "object", "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object", "properties": {"temperature": {
                    "type": "number", "exclusiveMinimum": 0,
                    "description": "of the softmax that makes probabilities (default 1)"}}},
                "inputs": {"type": "array", "items": _ref("InferInput"),
                           "minItems": 1, "maxItems": 1},
                "outputs": {"type": "array", "items": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"enum": ["action", "q_values", "probabilities"]},
                                   "parameters": {"type": "object"}}}}},
            "example": {"inputs": [{"name": "obs", "datatype": "FP32", "shape": [1, width],
                                    "data": [0.01] * width}]}},
        "InferResponse": {
            "type": "object", "required": ["model_name", "model_version", "outputs"],
            "properties": {"model_name": {"const": model_name},
                           "model_version": {"const": version},
                           "id": {"type": "string"},
                           "outputs": {"type": "array", "items": v2_tensor_out},
                           "parameters": {"type": "object", "properties": {
                               "routing": {"type": "object",
                                           "additionalProperties": branch}}}}},
        "V2Feedback": v2_feedback,
        "V2ServerMetadata": {
            "type": "object", "required": ["name", "version", "extensions"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                           "extensions": {"type": "array", "items": {"type": "string"}}}},
        "V2ModelMetadata": {
            "type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
            "properties": {"name": {"const": model_name},
                           "versions": {"const": [version]},
                           "platform": {"type": "string"},
                           "inputs": {"type": "array", "items": meta_tensor},
                           "outputs": {"type": "array", "items": meta_tensor}}},
        "V2Error": {"type": "object", "required": ["error"],
                    "description": "the protocol's error shape",
                    "properties": {"error": {"type": "string"}}},
    }


def _answer(description: str, schema: str | dict[str, Any], media: str = JSON
            ) -> dict[str, Any]:
    schema = _ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {media: {"schema": schema}}}


_SELDON_ERRORS = {
    "400": _answer("the message cannot be used (shape, type, values, query)", "SeldonError"),
    "401": _answer("missing or wrong API key", "SeldonError"),
    "404": _answer("no such resource here (no router to route)", "SeldonError"),
    "413": _answer(f"body over the server's limit, or over {MAX_ROWS} observations",
                   "SeldonError"),
}
_V2_ERRORS = {
    "400": _answer("the request cannot be used", "V2Error"),
    "401": _answer("missing or wrong API key", "V2Error"),
    "404": _answer("no such model or version", "V2Error"),
    "413": _answer(f"body over the server's limit, or over {MAX_ROWS} observations",
                   "V2Error"),
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_PREDICT_QUERY = [
    _query("mode", {"enum": ["greedy", "sample"]},
           "greedy (the default): the best action; sample: draw from the softmax"),
    _query("temperature", {"type": "number", "exclusiveMinimum": 0},
           "of the softmax for sample and distribution (default 1)"),
    _query("distribution", {"enum": ["0", "1", "false", "true"]},
           "1 or true: also return q_values and probabilities"),
]


class _Builder:
    """Operations of one document; ``secured`` adds the API key to the guarded ones."""

    def __init__(self, secured: bool) -> None:
        self.secured = secured

    def op(self, path: str, summary: str, responses: dict[str, Any],
           errors: dict[str, Any], codes: tuple[str, ...], **extra: Any) -> dict[str, Any]:
        guarded = self.secured and path not in _OPEN
        codes = (*codes, "401") if guarded else codes
        operation = {"summary": summary, **extra,
                     "responses": {**responses, **{c: errors[c] for c in sorted(codes)}}}
        if guarded:
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
        return operation

    def message_post(self, path: str, summary: str, ok: dict[str, Any], body: str,
                     query: list[Any] = (), codes: tuple[str, ...] = ("400", "413")
                     ) -> dict[str, Any]:
        """A Seldon message in the body: JSON, or the form field json= (its JSON)."""
        return self.op(path, summary, {"200": ok}, _SELDON_ERRORS, codes,
                       description="The body is the JSON message, or a form whose field json= "
                                   "holds it (as Seldon's client posts it). Like "
                                   "seldon-core's wrapper, a ?json= query, when given, is "
                                   "the message instead of the body.",
                       parameters=list(query),
                       requestBody={"required": True, "content": {
                           **_json(_ref(body)),
                           FORM: {"schema": {"type": "object", "required": ["json"],
                                             "properties": {"json": _ref(body)}},
                                  "encoding": {"json": {"contentType": JSON}}}}})

    def message_get(self, path: str, summary: str, ok: dict[str, Any], body: str,
                    query: list[Any] = (), codes: tuple[str, ...] = ("400", "413")
                    ) -> dict[str, Any]:
        """The GET form of a message route: the message, as JSON, in ?json=."""
        json_query = {"name": "json", "in": "query", "required": True,
                      "description": "the message as JSON", "content": _json(_ref(body))}
        return self.op(path, summary + " (the message in ?json=)", {"200": ok},
                       _SELDON_ERRORS, codes, parameters=[*query, json_query])

    def get(self, path: str, summary: str, ok: dict[str, Any],
            errors: dict[str, Any] = _SELDON_ERRORS, codes: tuple[str, ...] = (),
            params: list[Any] = ()) -> dict[str, Any]:
        extra = {"parameters": list(params)} if params else {}
        return {"get": self.op(path, summary, {"200": ok}, errors, codes, **extra)}

    def v2_post(self, path: str, summary: str, ok: dict[str, Any], body: str,
                params: list[Any], description: str = "") -> dict[str, Any]:
        extra = {"description": description} if description else {}
        return {"post": self.op(path, summary, {"200": ok}, _V2_ERRORS, ("400", "404", "413"),
                                parameters=params, **extra,
                                requestBody={"required": True, "content": _json(_ref(body))})}


_BINARY = ("Inputs may also come as the binary tensor extension (as tritonclient sends "
           "them): the header Inference-Header-Content-Length gives the length of the JSON "
           "that starts the body, and each input's parameters.binary_data_size bytes of "
           "little-endian numbers follow it, in order. The answer is always JSON. A router "
           "names its branch in parameters.routing.")


def document(graph: Graph, model_name: str, version: str, secured: bool = False
             ) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an app serving ``graph`` as V2 model ``model_name``."""
    b = _Builder(secured)
    predict = _answer("one action per observation row; meta.routing names a router's branch",
                      "SeldonPrediction")
    accepted = _answer("accepted", "SeldonAccepted")
    route = _answer("the branch these observations would go to", "SeldonRoute")
    meta = b.get("/metadata", "Seldon model metadata: name, versions, inputs, outputs",
                 _answer("metadata", "SeldonMetadata"))
    status = b.get("/health/status", "Readiness, models and router state",
                   _answer("ok", "SeldonStatus"))

    def predict_post(path: str) -> dict[str, Any]:
        return b.message_post(path, "One action per observation row", predict,
                              "SeldonMessage", _PREDICT_QUERY)

    def feedback_post(path: str) -> dict[str, Any]:
        return b.message_post(path, "A reward for an earlier answer; a router learns from it",
                              accepted, "SeldonFeedback")

    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "enum": [model_name]}}
    ver = {"name": "version", "in": "path", "required": True,
           "schema": {"type": "string", "enum": [version]}}
    paths: dict[str, Any] = {
        "/api/v1.0/predictions": {"post": predict_post("/api/v1.0/predictions")},
        "/api/v0.1/predictions": {"post": predict_post("/api/v0.1/predictions")},
        "/predict": {"post": predict_post("/predict"),
                     "get": b.message_get("/predict", "One action per observation row",
                                          predict, "SeldonMessage", _PREDICT_QUERY)},
        "/api/v1.0/feedback": {"post": feedback_post("/api/v1.0/feedback")},
        "/api/v0.1/feedback": {"post": feedback_post("/api/v0.1/feedback")},
        "/send-feedback": {"post": feedback_post("/send-feedback"),
                           "get": b.message_get("/send-feedback", "A reward for an earlier "
                                                "answer", accepted, "SeldonFeedback")},
        "/route": {"post": b.message_post("/route", "A router's choice of branch (404 "
                                          "without a router)", route, "SeldonMessage",
                                          codes=("400", "404", "413")),
                   "get": b.message_get("/route", "A router's choice of branch (404 without "
                                        "a router)", route, "SeldonMessage",
                                        codes=("400", "404", "413"))},
        "/metadata": meta,
        "/api/v1.0/metadata": meta,
        "/health/ping": b.get("/health/ping", "Liveness",
                              _answer("alive", {"const": "pong"})),
        "/health/status": status,
        "/api/v1.0/health/status": status,
        "/metrics": b.get("/metrics", "Prometheus metrics",
                          _answer("the text format", {"type": "string"}, "text/plain")),
        "/openapi.json": b.get("/openapi.json", "This document",
                               _answer("OpenAPI 3.1", {"type": "object"})),
        "/docs": b.get("/docs", "A page listing this document's operations",
                       _answer("HTML", {"type": "string"}, "text/html")),
        # The Open Inference Protocol (V2)
        "/v2": b.get("/v2", "V2 server metadata", _answer("ok", "V2ServerMetadata"),
                     _V2_ERRORS),
        "/v2/health/live": b.get("/v2/health/live", "V2 liveness",
                                 _answer("live", {"const": {"live": True}}), _V2_ERRORS),
        "/v2/health/ready": b.get("/v2/health/ready", "V2 readiness",
                                  _answer("ready", {"const": {"ready": True}}), _V2_ERRORS),
    }
    for base, params in (("/v2/models/{name}", [name]),
                         ("/v2/models/{name}/versions/{version}", [name, ver])):
        paths[base] = b.get(base, "V2 model metadata: tensors, datatypes, shapes",
                            _answer("ok", "V2ModelMetadata"), _V2_ERRORS, ("404",), params)
        paths[f"{base}/ready"] = b.get(
            f"{base}/ready", "V2 model readiness",
            _answer("ready", {"const": {"name": model_name, "ready": True}}),
            _V2_ERRORS, ("404",), params)
        paths[f"{base}/infer"] = b.v2_post(
            f"{base}/infer", "V2 inference: obs FP32 [N, width] in, action INT64 [N] out; "
            "q_values and probabilities when asked", _answer("ok", "InferResponse"),
            "InferRequest", params, _BINARY)
        paths[f"{base}/feedback"] = b.v2_post(
            f"{base}/feedback", "V2 extension: a reward for an earlier answer "
            "(parameters.routing names its branch)", _answer("accepted", {"const": {}}),
            "V2Feedback", params)
    components: dict[str, Any] = {"schemas": _schemas(graph, model_name, version)}
    if secured:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "cartpole serve", "version": "1",
                 "description": "A DQN policy behind Seldon's REST protocol and the Open "
                                "Inference Protocol (V2). Every path is also answered under "
                                "/seldon/<namespace>/<deployment> and under the server's "
                                "--path-prefix. A method a path does not list is a 405 with "
                                "an Allow header."},
        "paths": paths,
        "components": components,
    }


def docs_html(doc: dict[str, Any]) -> bytes:
    """A page that lists the document's operations."""
    rows = "".join(
        f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(op['summary'])}</td></tr>"
        for path, ops in doc["paths"].items() for method, op in ops.items())
    return (f"<!doctype html><meta charset=utf-8><title>cartpole serve</title>"
            f"<h1>cartpole serve</h1><p>Machine-readable: <a href=/openapi.json>"
            f"/openapi.json</a></p><table>{rows}</table>").encode()
