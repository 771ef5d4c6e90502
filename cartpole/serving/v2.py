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
``{"error": "..."}``, with a 4xx status: 404 for a path that is not one of these (or
another model or version), 405 for a method its path does not take.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cartpole import __version__
from cartpole.serving import codec
from cartpole.serving.errors import BadRequest, ServingError
from cartpole.serving.graph import Answer, Graph

INPUT = "obs"
OUTPUTS = ("action", "q_values", "probabilities")
DATATYPES = {"FP32": np.float32, "FP64": np.float64}
EXTENSIONS = ["feedback"]
GET, POST = frozenset({"GET"}), frozenset({"POST"})


class NotFound(ServingError):
    status = 404


class MethodNotAllowed(ServingError):
    """A method the path does not take; ``allow`` lists those it takes (the Allow header)."""

    status = 405

    def __init__(self, path: str, allow: frozenset[str]) -> None:
        super().__init__(f"{path} takes {' or '.join(sorted(allow))}")
        self.allow = allow


class V2:
    """Answers V2 paths for one graph, served as one model called ``name``."""

    def __init__(self, graph: Graph, name: str = "cartpole") -> None:
        self.graph, self.name = graph, name
        self.version = graph.policies[0].digest or "1"
        self._endpoints: dict[str, tuple[str, frozenset[str]]] = {}

    def _endpoint(self, path: str) -> tuple[str, frozenset[str]]:
        """The endpoint ``path`` names and the methods it takes; NotFound if none."""
        known = self._endpoints.get(path)
        if known is None:
            known = self._endpoints[path] = self._parse(path)  # found: a few paths at most
        return known

    def _parse(self, path: str) -> tuple[str, frozenset[str]]:
        parts = path.strip("/").split("/")[1:]  # after "v2"
        if parts == []:
            return "server", GET
        if parts in (["health", "live"], ["health", "ready"]):
            return parts[1], GET
        if len(parts) >= 2 and parts[0] == "models":
            rest = self._model_path(parts[1:])
            if rest in ([], ["ready"]):
                return "/".join(["model", *rest]), GET
            if rest in (["infer"], ["feedback"]):
                return rest[0], POST
        raise NotFound(f"no V2 endpoint {path}")

    def allowed(self, path: str) -> frozenset[str]:
        """The methods ``path`` takes; NotFound if it is no V2 endpoint here."""
        return self._endpoint(path)[1]

    def answer(self, method: str, path: str, message: Any) -> tuple[int, Any]:
        """(status, JSON-ready body) for ``method path``; raises ServingError."""
        endpoint, allow = self._endpoint(path)
        if method not in allow:
            raise MethodNotAllowed(path, allow)
        if endpoint == "server":
            return 200, {"name": "cartpole", "version": __version__, "extensions": EXTENSIONS}
        if endpoint in ("live", "ready"):
            return 200, {endpoint: True}
        if endpoint == "model":
            return 200, self.metadata()
        if endpoint == "model/ready":
            return 200, {"name": self.name, "ready": True}
        if endpoint == "infer":
            return 200, self.infer(message)
        return 200, self.feedback(message)

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
        if "id" in message and not isinstance(message["id"], str):
            raise BadRequest('"id" must be a string')
        rows = _input(message["inputs"], self.graph.obs_dim)
        wanted = _wanted(message)
        temperature = _temperature(codec.member(message, "parameters", "parameters"))
        answer = self.graph.predict(rows)
        reply: dict[str, Any] = {"model_name": self.name, "model_version": self.version,
                                 "outputs": [_output(out, answer, temperature)
                                             for out in wanted]}
        if "id" in message:
            reply["id"] = message["id"]
        if answer.branch is not None:
            reply["parameters"] = {"routing": {self.graph.unit: int(answer.branch)}}
        return reply

    def feedback(self, message: Any) -> dict[str, Any]:
        unit = self.graph.unit if self.graph.bandit is not None else None
        reward, routing = codec.v2_feedback_parts(message, unit)
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
        datatype = tensor.get("datatype")
        dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
        if (dtype is None or type(size) is not int or size < 0
                or offset + size > len(blob)):
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
    if len(inputs) != 1 or not isinstance(inputs[0], dict) or inputs[0].get("name") != INPUT:
        raise BadRequest(f'send one input tensor, "{INPUT}"')
    tensor = inputs[0]
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise BadRequest(f"input datatype must be FP32 (or FP64), got {datatype!r}")
    shape = tensor.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2 or shape[1] != obs_dim
            or not all(codec.is_int(d) and d >= 1 for d in shape)):
        raise BadRequest(f"input shape must be [N, {obs_dim}], got {shape!r}")
    shape = [int(d) for d in shape]
    codec.member(tensor, "parameters", "input parameters")
    if "data" not in tensor:
        raise BadRequest("input data missing: send data (or binary data and its size)")
    codec.check_numbers(tensor["data"], "input data", obs_dim)
    try:
        data = np.asarray(tensor["data"], dtype=DATATYPES[datatype]).ravel()
    except (TypeError, ValueError):
        raise BadRequest(f"input data must be numbers, flat or in rows of {obs_dim}") from None
    if data.size != shape[0] * shape[1]:
        raise BadRequest(f"input data has {data.size} values, its shape {shape} needs "
                         f"{shape[0] * shape[1]}")
    return data.reshape(shape).astype(np.float32, copy=False)


def _output(name: str, answer: Answer, temperature: float) -> dict[str, Any]:
    """One output tensor of an inference answer, computed only when it is asked for."""
    if name == "action":
        return {"name": name, "datatype": "INT64", "shape": [len(answer.actions)],
                "data": answer.actions.tolist()}
    values = (answer.q_values if name == "q_values"
              else codec.probabilities(answer.q_values, temperature))
    return {"name": name, "datatype": "FP32", "shape": list(answer.q_values.shape),
            "data": np.asarray(values).ravel().tolist()}


def _temperature(parameters: dict[str, Any]) -> float:
    """``parameters.temperature``: a number > 0, 1 when not given."""
    value = parameters.get("temperature", 1.0)
    if type(value) not in (int, float) or not value > 0:
        raise BadRequest(f"temperature must be > 0, got {value!r}")
    return float(value)


def _wanted(message: dict[str, Any]) -> list[str]:
    if "outputs" not in message:
        return ["action"]
    outputs = message["outputs"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequest('"outputs" must be a list of {"name": ...}')
    for output in outputs:
        codec.member(output, "parameters", "output parameters")
    names = [o.get("name") for o in outputs]
    unknown = [n for n in names if not isinstance(n, str) or n not in OUTPUTS]
    if unknown:
        raise BadRequest(f"unknown output {unknown[0]!r}; choose from {', '.join(OUTPUTS)}")
    return names
