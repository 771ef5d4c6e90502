"""The OpenAPI description of ``cartpole serve``, and a page that lists it (no CDN)."""

from __future__ import annotations

import html
from typing import Any

_ERROR = {"description": "Seldon's error shape: {status: {status, info, code, reason}}"}
_OBS = {"type": "object", "required": ["data"], "example": {
    "data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}}
_FEEDBACK = {"type": "object", "required": ["reward"], "example": {
    "reward": 1.0, "response": {"meta": {"routing": {"epsilon-greedy": 2}}}}}
_FORM = {"type": "object", "required": ["json"],
         "properties": {"json": {"type": "string", "description": "the message as JSON"}}}
_JSON_QUERY = {"name": "json", "in": "query", "description": "the message as JSON",
               "schema": {"type": "string"}}
_PREDICT_QUERY = [
    {"name": "mode", "in": "query", "schema": {"enum": ["greedy", "sample"]}},
    {"name": "temperature", "in": "query", "schema": {"type": "number"}},
    {"name": "distribution", "in": "query",
     "description": "1: also return q_values and probabilities", "schema": {"type": "integer"}}]


def _post(summary: str, ok: str, schema: dict[str, Any] = _OBS, query: list[Any] = (),
          errors: tuple[str, ...] = ("400", "401", "413")) -> dict[str, Any]:
    """An operation that takes a Seldon message: JSON body, form field json= or ?json=."""
    return {"summary": summary, "parameters": [*query, _JSON_QUERY],
            "requestBody": {"content": {"application/json": {"schema": schema},
                                        "application/x-www-form-urlencoded": {
                                            "schema": _FORM}}},
            "responses": {"200": {"description": ok}, **{c: _ERROR for c in errors}}}


def _get(summary: str, ok: str, query: list[Any] = (),
         errors: tuple[str, ...] = ("400", "401")) -> dict[str, Any]:
    """The GET form of a message route: the message in ?json=."""
    return {"summary": summary + " (the message in ?json=)",
            "parameters": [*query, {**_JSON_QUERY, "required": True}],
            "responses": {"200": {"description": ok}, **{c: _ERROR for c in errors}}}


_PREDICT = ("One action per observation row",
            "data.ndarray: [[action], ...]; meta.routing when a router chose")
_SEND = ("A reward for an earlier answer; routers learn from it", "accepted")
_ROUTE = ("A router's choice of branch for these observations",
          "data.ndarray: [[branch]]; 404 without a router")
_META = {"get": {"summary": "Seldon model metadata: name, versions, inputs, outputs",
                 "responses": {"200": {"description": "metadata"}, "401": _ERROR}}}
_STATUS = {"get": {"summary": "Readiness, models and router state",
                   "responses": {"200": {"description": "ok"}}}}

# --- the Open Inference Protocol (V2) ----------------------------------------------------
_V2_ERROR = {"description": 'the protocol\'s error shape: {"error": "..."}'}
_V2_TENSOR = {"type": "object", "required": ["name", "datatype", "shape", "data"],
              "properties": {"name": {"type": "string"}, "datatype": {"enum": ["FP32", "FP64"]},
                             "shape": {"type": "array", "items": {"type": "integer"}},
                             "data": {"type": "array"}}}
_V2_INFER = {"type": "object", "required": ["inputs"], "properties": {
    "id": {"type": "string"}, "parameters": {"type": "object"},
    "inputs": {"type": "array", "items": _V2_TENSOR},
    "outputs": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"enum": ["action", "q_values", "probabilities"]}}}}},
    "example": {"inputs": [{"name": "obs", "datatype": "FP32", "shape": [1, 4],
                            "data": [0.01, 0.02, 0.03, 0.04]}]}}
_V2_FEEDBACK = {"type": "object", "required": ["reward"], "example": {
    "reward": 1.0, "parameters": {"routing": {"epsilon-greedy": 1}}}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}


def _v2_get(summary: str, params: list[Any] = ()) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": list(params), "responses": {
        "200": {"description": "ok"}, "401": _V2_ERROR, "404": _V2_ERROR}}}


def _v2_post(summary: str, schema: dict[str, Any], params: list[Any]) -> dict[str, Any]:
    return {"post": {"summary": summary, "parameters": params,
                     "requestBody": {"content": {"application/json": {"schema": schema}}},
                     "responses": {"200": {"description": "ok"}, "400": _V2_ERROR,
                                   "401": _V2_ERROR, "404": _V2_ERROR, "413": _V2_ERROR}}}


def _v2_model_paths(base: str, params: list[Any]) -> dict[str, Any]:
    return {
        base: _v2_get("V2 model metadata: tensors, datatypes, shapes", params),
        f"{base}/ready": _v2_get("V2 model readiness", params),
        f"{base}/infer": _v2_post("V2 inference: obs FP32 [N, 4] in, action INT64 [N] out; "
                                  "q_values and probabilities when asked", _V2_INFER, params),
        f"{base}/feedback": _v2_post("V2 extension: a reward for an earlier answer "
                                     "(parameters.routing names its branch)", _V2_FEEDBACK,
                                     params),
    }


_V2_PATHS: dict[str, Any] = {
    "/v2": _v2_get("V2 server metadata"),
    "/v2/health/live": _v2_get("V2 liveness"),
    "/v2/health/ready": _v2_get("V2 readiness"),
    **_v2_model_paths("/v2/models/{name}", [_NAME]),
    **_v2_model_paths("/v2/models/{name}/versions/{version}", [_NAME, _VERSION]),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "cartpole serve", "version": "1",
             "description": "A DQN policy behind Seldon's REST protocol. Every path is "
                            "also answered under /seldon/<namespace>/<deployment> and "
                            "under the server's --path-prefix."},
    "paths": {
        "/api/v1.0/predictions": {"post": _post(*_PREDICT, query=_PREDICT_QUERY)},
        "/api/v0.1/predictions": {"post": _post(*_PREDICT, query=_PREDICT_QUERY)},
        "/predict": {"post": _post(*_PREDICT, query=_PREDICT_QUERY),
                     "get": _get(*_PREDICT, query=_PREDICT_QUERY)},
        "/api/v1.0/feedback": {"post": _post(*_SEND, _FEEDBACK)},
        "/api/v0.1/feedback": {"post": _post(*_SEND, _FEEDBACK)},
        "/send-feedback": {"post": _post(*_SEND, _FEEDBACK), "get": _get(*_SEND)},
        "/route": {"post": _post(*_ROUTE, errors=("400", "401", "404", "413")),
                   "get": _get(*_ROUTE, errors=("400", "401", "404"))},
        "/metadata": _META,
        "/api/v1.0/metadata": _META,
        "/health/ping": {"get": {"summary": "Liveness", "responses": {"200": {
            "description": "pong"}}}},
        "/health/status": _STATUS,
        "/api/v1.0/health/status": _STATUS,
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text format"}}}},
        **_V2_PATHS,
    },
}


def _docs_html() -> bytes:
    rows = "".join(
        f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(op['summary'])}</td></tr>"
        for path, ops in OPENAPI["paths"].items() for method, op in ops.items())
    return (f"<!doctype html><meta charset=utf-8><title>cartpole serve</title>"
            f"<h1>cartpole serve</h1><p>Machine-readable: <a href=/openapi.json>"
            f"/openapi.json</a></p><table>{rows}</table>").encode()


DOCS_HTML = _docs_html()
