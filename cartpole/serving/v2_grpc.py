"""The Open Inference Protocol's ``inference.GRPCInferenceService`` for ``cartpole serve``.

ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer,
answered by the same ``v2.V2`` as the REST routes: a gRPC request is turned into the
REST form, and the answer back. Inputs come as typed ``contents`` or as
``raw_input_contents`` (little-endian, as tritonclient sends them); outputs go back as
``raw_output_contents``, as Triton and MLServer answer. Errors are gRPC status codes:
``INVALID_ARGUMENT``, ``NOT_FOUND``, ``UNAUTHENTICATED``. A router's answer names
its branch in the ``routing`` parameter, as JSON (``{"epsilon-greedy": 1}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np

from cartpole.protocols.inference import CLASSES, SERVICE
from cartpole.serving.errors import BadRequest, ServingError
from cartpole.serving.v2 import DATATYPES, V2, NotFound

_CONTENTS = {"FP32": "fp32_contents", "FP64": "fp64_contents"}
_RAW_DTYPES = {"INT64": "<i8", "FP32": "<f4", "FP64": "<f8"}


class V2Grpc:
    """The handlers; ``check_key`` raises for a missing or wrong API key (or is None)."""

    def __init__(self, v2: V2, check_key: Callable[[grpc.ServicerContext], None]) -> None:
        self.v2, self.check_key = v2, check_key

    def server_live(self, request: Any, context: grpc.ServicerContext) -> Any:
        return CLASSES["ServerLiveResponse"](live=True)

    def server_ready(self, request: Any, context: grpc.ServicerContext) -> Any:
        return CLASSES["ServerReadyResponse"](ready=True)

    def server_metadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        _, meta = self.v2.answer("GET", "/v2", None)
        return CLASSES["ServerMetadataResponse"](**meta)

    def model_ready(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        self._call(context, self._path(request.name, request.version, "ready"))
        return CLASSES["ModelReadyResponse"](ready=True)

    def model_metadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        meta = self._call(context, self._path(request.name, request.version))
        reply = CLASSES["ModelMetadataResponse"](name=meta["name"], versions=meta["versions"],
                                                 platform=meta["platform"])
        for kind in ("inputs", "outputs"):
            for tensor in meta[kind]:
                getattr(reply, kind).add(**tensor)
        return reply

    def model_infer(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        try:
            message = _as_rest(request)
        except ServingError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        answer = self._call(context, self._path(request.model_name, request.model_version,
                                                "infer"), "POST", message)
        reply = CLASSES["ModelInferResponse"](model_name=answer["model_name"],
                                              model_version=answer["model_version"],
                                              id=answer.get("id", ""))
        routing = (answer.get("parameters") or {}).get("routing")
        if routing:  # {"unit": branch} as JSON: a parameter holds no map
            reply.parameters["routing"].string_param = json.dumps(routing)
        for output in answer["outputs"]:
            reply.outputs.add(name=output["name"], datatype=output["datatype"],
                              shape=output["shape"])
            reply.raw_output_contents.append(np.asarray(
                output["data"], dtype=_RAW_DTYPES[output["datatype"]]).tobytes())
        return reply

    def _path(self, name: str, version: str, *rest: str) -> str:
        versioned = f"/versions/{version}" if version else ""
        return "/".join([f"/v2/models/{name}{versioned}", *rest])

    def _call(self, context: grpc.ServicerContext, path: str, method: str = "GET",
              message: Any = None) -> Any:
        try:
            return self.v2.answer(method, path, message)[1]
        except NotFound as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ServingError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


def handler(servicer: V2Grpc) -> grpc.GenericRpcHandler:
    """The service's method handlers, for ``grpc.Server.add_generic_rpc_handlers``."""
    methods = {
        "ServerLive": servicer.server_live, "ServerReady": servicer.server_ready,
        "ModelReady": servicer.model_ready, "ServerMetadata": servicer.server_metadata,
        "ModelMetadata": servicer.model_metadata, "ModelInfer": servicer.model_infer,
    }
    return grpc.method_handlers_generic_handler(SERVICE, {
        name: grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=CLASSES[f"{name}Request"].FromString,
            response_serializer=CLASSES[f"{name}Response"].SerializeToString)
        for name, fn in methods.items()})


def _as_rest(request: Any) -> dict[str, Any]:
    """A ModelInferRequest in the REST form ``v2.V2.infer`` takes."""
    inputs = []
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise BadRequest("raw_input_contents must hold one entry per input")
    for i, tensor in enumerate(request.inputs):
        if tensor.datatype not in DATATYPES:
            raise BadRequest(f"input datatype must be FP32 (or FP64), got {tensor.datatype!r}")
        if raw:
            dtype = np.dtype(DATATYPES[tensor.datatype]).newbyteorder("<")
            if len(raw[i]) % dtype.itemsize:
                raise BadRequest("raw input data does not match its datatype")
            data: Any = np.frombuffer(raw[i], dtype=dtype)
        else:
            data = np.asarray(getattr(tensor.contents, _CONTENTS[tensor.datatype]))
        inputs.append({"name": tensor.name, "datatype": tensor.datatype,
                       "shape": [int(d) for d in tensor.shape], "data": data})
    message: dict[str, Any] = {"inputs": inputs}
    if request.outputs:
        message["outputs"] = [{"name": o.name} for o in request.outputs]
    if request.id:
        message["id"] = request.id
    temperature = request.parameters.get("temperature")
    if temperature is not None and temperature.WhichOneof("parameter_choice") == "double_param":
        message["parameters"] = {"temperature": temperature.double_param}
    return message
