"""Seldon's gRPC protocol: ``seldon.protos.Seldon/Predict`` and ``SendFeedback``.

Observations travel as ``DefaultData.tensor`` (shape and flat values), as the 2018
agent sent them; actions come back as a tensor or an ndarray. One channel per client.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import numpy as np

from cartpole.protocols import seldon as proto
from cartpole.remote.client import Reply, RetryPolicy
from cartpole.remote.errors import AuthError, ServerError
from cartpole.remote.rest_client import parse_actions

TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


class _Transient(Exception):
    """A gRPC error worth a retry (the server is down, or slow)."""


class GrpcClient:
    def __init__(self, host: str, port: int, metadata: list[tuple[str, str]] | None = None,
                 retry: RetryPolicy | None = None, tls: bool = False,
                 service: str = "Seldon") -> None:
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.url = f"{'grpcs' if tls else 'grpc'}://{self.address}"
        self.retry, self.metadata = retry or RetryPolicy(), list(metadata or [])
        self._channel = (grpc.secure_channel(self.address, grpc.ssl_channel_credentials())
                         if tls else grpc.insecure_channel(self.address))
        parse = proto.SeldonMessage.FromString
        self._predict = self._channel.unary_unary(
            proto.method(service, "Predict"), request_serializer=_serialize,
            response_deserializer=parse)
        self._feedback = self._channel.unary_unary(
            proto.method(service, "SendFeedback"), request_serializer=_serialize,
            response_deserializer=parse)

    def predict(self, rows: np.ndarray) -> Reply:
        started = time.perf_counter()
        request = request_message(rows)
        response = self._call(self._predict, request, "Predict")
        actions = parse_actions(answer_dict(response), len(rows))
        return Reply(actions, dict(response.meta.routing), response,
                     time.perf_counter() - started)

    def feedback(self, rows: np.ndarray, reply: Reply, reward: float) -> None:
        message = proto.Feedback(request=request_message(rows), reward=float(reward))
        if reply.response is not None:
            message.response.CopyFrom(reply.response)
        self._call(self._feedback, message, "SendFeedback")

    def close(self) -> None:
        self._channel.close()

    def _call(self, stub: Any, message: Any, name: str) -> Any:
        def attempt() -> Any:
            try:
                return stub(message, timeout=self.retry.timeout, metadata=self.metadata)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in TRANSIENT:
                    raise _Transient("timed out" if code == grpc.StatusCode.DEADLINE_EXCEEDED
                                     else _details(exc)) from None
                if code in REFUSED:
                    raise AuthError(f"{self.url} refused {name} ({code.name}): "
                                    f"{_details(exc)}; check --token or the OAuth options"
                                    ) from None
                raise ServerError(f"{self.url} answered {name} with {code.name}: "
                                  f"{_details(exc)}", code.name) from None

        return self.retry.call(f"cannot reach {self.url}", attempt, (_Transient,))


def request_message(rows: np.ndarray) -> Any:
    rows = np.asarray(rows, dtype=np.float64)
    return proto.SeldonMessage(data=proto.DefaultData(
        tensor=proto.Tensor(shape=list(rows.shape), values=rows.ravel().tolist())))


def answer_dict(message: Any) -> dict[str, Any]:
    """The parts of an answer ``parse_actions`` reads, in REST's JSON shape."""
    data = message.data
    kind = data.WhichOneof("data_oneof") if message.HasField("data") else None
    if kind == "tensor":
        return {"data": {"tensor": {"shape": list(data.tensor.shape),
                                    "values": list(data.tensor.values)}}}
    if kind == "ndarray":
        from google.protobuf.json_format import MessageToDict

        return {"data": {"ndarray": MessageToDict(data.ndarray)}}
    return {"status": message.status.info} if message.HasField("status") else {}


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()


def _details(exc: grpc.RpcError) -> str:
    text = (exc.details() or "").strip().splitlines()
    return text[0] if text else exc.code().name.lower()
