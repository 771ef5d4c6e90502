"""The Open Inference Protocol (V2, as KServe, MLServer, Triton and Seldon Core 2 speak it)
over REST, for ``cartpole serve``.

Routes (``{name}`` is the served model's name, ``cartpole`` unless ``--model-name``
says otherwise; ``/versions/{v}`` may follow it, ``{v}`` being the model's digest):

    GET  /v2                                  server metadata
    GET  /v2/health/live  /v2/health/ready
    GET  /v2/models/{name}                    model metadata: tensors, datatypes, shapes
    GET  /v2/models/{name}/ready
    POST /v2/models/{name}/infer              input "obs" FP32 [N, 4] -> output "action"
                                              INT64 [N]; also "q_values", "probabilities"
                                              (FP32 [N, n_actions]) when asked for
    POST /v2/models/{name}/feedback           an extension: {"reward": r, "parameters":
                                              {"routing": {...}}} teaches a router

Inputs may also come as binary data (the protocol's binary tensor extension, which
tritonclient uses by default): the JSON header of ``Inference-Header-Content-Length``
bytes, then each input's ``parameters.binary_data_size`` bytes, little-endian. The
answer is always JSON.

A router or A/B graph is one model: its answer's ``parameters.routing`` names the
branch, and the feedback extension takes it back. Errors are the protocol's shape,
``{"error": "..."}``, with a 4xx status.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cartpole import __version__
from cartpole.serving.errors import BadRequest, ServingError
from cartpole.serving.graph import Graph
from cartpole.serving.policy import softmax

INPUT = "obs"
OUTPUTS = ("action", "q_values", "probabilities")
DATATYPES = {"FP32": np.float32, "FP64": np.float64}
EXTENSIONS = ["feedback"]


class NotFound(ServingError):
    status = 404


class V2:
    """Answers V2 paths for one graph, served as one model called ``name``."""

    def __init__(self, graph: Graph, name: str = "cartpole") -> None:
        self.graph, self.name = graph, name
        self.version = graph.policies[0].digest or "1"

    def answer(self, method: str, path: str, message: Any) -> tuple[int, Any]:
        """(status, JSON-ready body) for ``method path``; raises ServingError."""
        parts = path.strip("/").split("/")[1:]  # after "v2"
        if method == "GET" and parts == []:
            return 200, {"name": "cartpole", "version": __version__,
                         "extensions": EXTENSIONS}
        if method == "GET" and parts in (["health", "live"], ["health", "ready"]):
            return 200, {parts[1]: True}
        if len(parts) < 2 or parts[0] != "models":
            raise NotFound(f"no V2 endpoint {path}")
        rest = self._model_path(parts[1:])
        if method == "GET" and rest == []:
            return 200, self.metadata()
        if method == "GET" and rest == ["ready"]:
            return 200, {"name": self.name, "ready": True}
        if method == "POST" and rest == ["infer"]:
            return 200, self.infer(message)
        if method == "POST" and rest == ["feedback"]:
            return 200, self.feedback(message)
        raise NotFound(f"no V2 endpoint {method} {path}")

    def _model_path(self, parts: list[str]) -> list[str]:
        name, rest = parts[0], parts[1:]
        if name != self.name:
            raise NotFound(f"no model {name!r}; this server serves {self.name!r}")
        if rest[:1] == ["versions"]:
            if len(rest) < 2 or rest[1] != self.version:
                raise NotFound(f"model {self.name!r} has one version, {self.version!r}")
            rest = rest[2:]
        return rest

    def metadata(self) -> dict[str, Any]:
        n_actions = self.graph.policies[0].n_actions
        return {
            "name": self.name, "versions": [self.version], "platform": "cartpole-numpy",
            "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, self.graph.obs_dim]}],
            "outputs": [{"name": "action", "datatype": "INT64", "shape": [-1]},
                        {"name": "q_values", "datatype": "FP32", "shape": [-1, n_actions]},
                        {"name": "probabilities", "datatype": "FP32",
                         "shape": [-1, n_actions]}],
            "parameters": {"router": self.graph.router},
        }

    def infer(self, message: Any) -> dict[str, Any]:
        if not isinstance(message, dict) or not isinstance(message.get("inputs"), list):
            raise BadRequest('an inference request needs "inputs": [{"name": "obs", ...}]')
        rows = _input(message["inputs"], self.graph.obs_dim)
        wanted = _wanted(message.get("outputs"))
        parameters = message.get("parameters") or {}
        temperature = float(parameters.get("temperature", 1.0)) \
            if isinstance(parameters, dict) else 1.0
        answer = self.graph.predict(rows)
        n = len(answer.actions)
        tensors = {
            "action": ("INT64", [n], answer.actions.astype(np.int64)),
            "q_values": ("FP32", list(answer.q_values.shape), answer.q_values),
            "probabilities": ("FP32", list(answer.q_values.shape),
                              softmax(answer.q_values, temperature)),
        }
        reply: dict[str, Any] = {
            "model_name": self.name, "model_version": self.version,
            "outputs": [{"name": out, "datatype": tensors[out][0], "shape": tensors[out][1],
                         "data": np.asarray(tensors[out][2]).ravel().tolist()}
                        for out in wanted]}
        if "id" in message:
            reply["id"] = message["id"]
        if answer.branch is not None:
            reply["parameters"] = {"routing": {self.graph.unit: int(answer.branch)}}
        return reply

    def feedback(self, message: Any) -> dict[str, Any]:
        if not isinstance(message, dict) or "reward" not in message:
            raise BadRequest('feedback needs {"reward": r, "parameters": {"routing": {...}}}')
        try:
            reward = float(message["reward"])
        except (TypeError, ValueError):
            raise BadRequest("reward must be a number") from None
        routing = (message.get("parameters") or {}).get("routing")
        self.graph.feedback(reward, routing)
        return {}


def split_binary(body: bytes, header_length: int) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensor data of a binary-extension request."""
    if not 0 <= header_length <= len(body):
        raise BadRequest(f"Inference-Header-Content-Length {header_length} does not fit a "
                         f"body of {len(body)} bytes")
    return body[:header_length], body[header_length:]


def attach_binary(message: Any, blob: bytes) -> None:
    """Put each input's binary data (in order, by ``binary_data_size``) in its ``data``."""
    inputs = message.get("inputs") if isinstance(message, dict) else None
    offset = 0
    for tensor in inputs if isinstance(inputs, list) else ():
        size = ((tensor.get("parameters") or {}).get("binary_data_size")
                if isinstance(tensor, dict) else None)
        if size is None:
            continue
        dtype = DATATYPES.get(tensor.get("datatype"))
        if dtype is None or not isinstance(size, int) or offset + size > len(blob):
            raise BadRequest("binary input data does not match its datatype and size")
        try:
            tensor["data"] = np.frombuffer(blob[offset:offset + size], dtype=np.dtype(dtype)
                                           .newbyteorder("<"))
        except ValueError:
            raise BadRequest("binary input data does not match its datatype") from None
        offset += size


def error(exc: ServingError) -> dict[str, str]:
    """The protocol's error body."""
    return {"error": str(exc)}


def _input(inputs: list[Any], obs_dim: int) -> np.ndarray:
    if len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadRequest(f'send one input tensor, "{INPUT}"')
    tensor = inputs[0]
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise BadRequest(f"input datatype must be FP32 (or FP64), got {datatype!r}")
    shape = tensor.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2 or shape[1] != obs_dim
            or not all(isinstance(d, int) and d >= 1 for d in shape)):
        raise BadRequest(f"input shape must be [N, {obs_dim}], got {shape!r}")
    try:
        data = np.asarray(tensor.get("data"), dtype=DATATYPES[datatype]).ravel()
    except (TypeError, ValueError):
        raise BadRequest("input data must be numbers") from None
    if data.size != shape[0] * shape[1]:
        raise BadRequest(f"input data has {data.size} values, its shape {shape} needs "
                         f"{shape[0] * shape[1]}")
    return data.reshape(shape).astype(np.float32)


def _wanted(outputs: Any) -> list[str]:
    if outputs is None:
        return ["action"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequest('"outputs" must be a list of {"name": ...}')
    names = [o.get("name") for o in outputs]
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise BadRequest(f"unknown output {unknown[0]!r}; choose from {', '.join(OUTPUTS)}")
    return names
