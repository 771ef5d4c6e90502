"""gRPC beside the REST app: Seldon's ``Seldon``, ``Model`` and ``Generic`` services,
each with ``Predict`` and ``SendFeedback`` (as seldon-core-microservice registers them
for a model or a router), and the Open Inference Protocol's
``inference.GRPCInferenceService`` (``v2_grpc.py``), on one port.

The messages are the protobuf classes ``cartpole.protocols.seldon`` builds from Seldon's
field numbers, so Seldon's own client and ``cartpole run --grpc-client`` both talk to
it. Requests are answered by the same graph as REST, and errors are gRPC status codes:
``INVALID_ARGUMENT`` for a request that cannot be used, ``UNAUTHENTICATED`` for a
missing or wrong API key (sent as ``authorization: Bearer KEY`` metadata).
"""

from __future__ import annotations

import os

# gRPC's own C++ log lines (a failed bind, say) would repeat on stderr what the one-line
# error already says; set before grpc is imported.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from concurrent import futures
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format

from cartpole.protocols import seldon as proto
from cartpole.serving import v2_grpc
from cartpole.serving.app import ServeApp
from cartpole.serving.errors import BadRequest, ServingError
from cartpole.serving.graph import Graph
from cartpole.serving.keys import key_matches

SERVICES = ("Seldon", "Model", "Generic")


class SeldonGrpc:
    """The handlers; ``graph`` is the one the REST app serves."""

    def __init__(self, graph: Graph, tags: dict[str, Any], api_key: str | None = None) -> None:
        self.graph, self.tags, self.api_key = graph, tags, api_key

    def predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        try:
            answer = self.graph.predict(_rows(request))
        except ServingError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        reply = proto.SeldonMessage()
        reply.data.names.append("action")
        reply.data.tensor.shape.extend([len(answer.actions), 1])
        reply.data.tensor.values.extend(answer.actions.astype(float).tolist())
        for key, value in self.tags.items():
            if value is not None:
                json_format.ParseDict(value, reply.meta.tags[key])
        if answer.branch is not None:
            reply.meta.routing[self.graph.unit] = int(answer.branch)
        return reply

    def send_feedback(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.check_key(context)
        routing = dict(request.response.meta.routing) or None
        try:
            self.graph.feedback(request.reward, routing)
        except ServingError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return proto.SeldonMessage()

    def check_key(self, context: grpc.ServicerContext) -> None:
        if not self.api_key:
            return
        metadata = dict(context.invocation_metadata())
        if not key_matches(self.api_key, metadata.get("authorization", ""),
                           metadata.get("x-api-key", "")):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong API key (authorization: Bearer <key>)")


def start_grpc(app: ServeApp, host: str, port: int, threads: int = 4) -> grpc.Server:
    """Start the gRPC server for ``app``'s graph on ``host:port`` (in threads of its
    own); return it."""
    handlers = SeldonGrpc(app.graph, app.tags, app.api_key)
    # No SO_REUSEPORT (gRPC's default): a port another server holds is refused, not shared.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((v2_grpc.handler(
        v2_grpc.V2Grpc(app.v2, handlers.check_key)),))
    for service in SERVICES:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            f"{proto.PACKAGE}.{service}", {
                "Predict": grpc.unary_unary_rpc_method_handler(
                    handlers.predict, request_deserializer=proto.SeldonMessage.FromString,
                    response_serializer=proto.SeldonMessage.SerializeToString),
                "SendFeedback": grpc.unary_unary_rpc_method_handler(
                    handlers.send_feedback, request_deserializer=proto.Feedback.FromString,
                    response_serializer=proto.SeldonMessage.SerializeToString),
            }),))
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # grpcio 1.60+: a port it cannot bind
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} for gRPC: address already in use "
                      "or not available")
    server.start()
    return server


def _rows(message: Any) -> Any:
    """Observation rows from ``data.tensor`` or ``data.ndarray``."""
    data = message.data
    kind = data.WhichOneof("data_oneof")
    if kind == "tensor":
        values = np.asarray(data.tensor.values, dtype=np.float32)
        try:
            return values.reshape(list(data.tensor.shape))
        except ValueError:
            raise BadRequest("data.tensor: values do not fit its shape") from None
    if kind == "ndarray":
        return json_format.MessageToDict(data.ndarray)
    raise BadRequest("send data.tensor or data.ndarray")
