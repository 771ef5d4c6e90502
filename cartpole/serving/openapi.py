"""The OpenAPI description of ``cartpole serve``, and a page that lists it (no CDN)."""

from __future__ import annotations

import html
from typing import Any

_ERROR = {"description": "Seldon's error shape: {status: {status, info, code, reason}}"}
_OBS = {"type": "object", "required": ["data"], "example": {
    "data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "cartpole serve", "version": "1",
             "description": "A DQN policy behind Seldon's REST protocol."},
    "paths": {
        "/api/v1.0/predictions": {"post": {
            "summary": "One action per observation row",
            "parameters": [
                {"name": "mode", "in": "query", "schema": {"enum": ["greedy", "sample"]}},
                {"name": "temperature", "in": "query", "schema": {"type": "number"}},
                {"name": "distribution", "in": "query",
                 "description": "1: also return q_values and probabilities",
                 "schema": {"type": "integer"}}],
            "requestBody": {"content": {"application/json": {"schema": _OBS}}},
            "responses": {"200": {"description": "data.ndarray: [[action], ...]; "
                                                 "meta.routing when a router chose"},
                          "400": _ERROR, "401": _ERROR, "413": _ERROR}}},
        "/api/v1.0/feedback": {"post": {
            "summary": "A reward for an earlier answer; routers learn from it",
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["reward"], "example": {
                    "reward": 1.0, "response": {"meta": {"routing": {"epsilon-greedy": 2}}}}}}}},
            "responses": {"200": {"description": "accepted"}, "400": _ERROR}}},
        "/health/ping": {"get": {"summary": "Liveness", "responses": {"200": {
            "description": "pong"}}}},
        "/health/status": {"get": {"summary": "Readiness, models and router state",
                                   "responses": {"200": {"description": "ok"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text format"}}}},
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
