"""The Open Inference Protocol (V2) for the agent: REST and gRPC.

``/v2/models/{model}/infer`` with an ``obs`` FP32 tensor, one ``action`` INT64 per row
back (``inference.GRPCInferenceService/ModelInfer`` over gRPC). A router's branch comes
back in the answer's ``parameters.routing``. Feedback uses ``cartpole serve``'s V2
extension, ``/v2/models/{model}/feedback``; a server without it (MLServer, Triton) gets
no rewards: the first refusal is logged once, and the run goes on. V2 over gRPC has no
feedback at all.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np

from cartpole.protocols.inference import CLASSES, method
from cartpole.remote.client import Reply, RetryPolicy
from cartpole.remote.errors import BadAnswer, ServerError
from cartpole.remote.grpc_client import GrpcClient
from cartpole.remote.rest_client import RestClient, check_actions
from cartpole.remote.target import Target

log = logging.getLogger(__name__)
_said: set[str] = set()


def _say_once(text: str) -> None:
    if text not in _said:
        _said.add(text)
        log.warning("%s", text)


class RestV2Client(RestClient):
    """V2 over REST, on the same kept-alive connection as Seldon's REST client."""

    def __init__(self, target: Target, model: str, retry: RetryPolicy | None = None,
                 stop: Any = None) -> None:
        super().__init__(target, retry, stop)
        self.base = f"/v2/models/{model}"
        self._feedback = True

    def predict(self, rows: np.ndarray) -> Reply:
        started = time.perf_counter()
        rows = np.asarray(rows, dtype=np.float32)
        answer = self._post(f"{self.base}/infer", {
            "inputs": [{"name": "obs", "datatype": "FP32", "shape": list(rows.shape),
                        "data": rows.ravel().tolist()}],
            "outputs": [{"name": "action"}]})
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        action = next((o for o in outputs or () if isinstance(o, dict)
                       and o.get("name") == "action"), None)
        if action is None:
            raise BadAnswer(f"the answer has no 'action' output: {str(answer)[:120]}")
        routing = (answer.get("parameters") or {}).get("routing") or {}
        return Reply(check_actions(action.get("data"), len(rows)),
                     routing if isinstance(routing, dict) else {}, answer,
                     time.perf_counter() - started)

    def feedback(self, rows: np.ndarray, reply: Reply, reward: float) -> None:
        if not self._feedback:
            return
        try:
            self._post(f"{self.base}/feedback",
                       {"reward": float(reward), "parameters": {"routing": reply.routing}})
        except ServerError as exc:
            if exc.status not in (404, 405):
                raise
            self._feedback = False
            _say_once(f"{self.target.url(self.base)} has no V2 feedback extension "
                      f"(HTTP {exc.status}): rewards are not sent")


class GrpcV2Client(GrpcClient):
    """V2 over gRPC: ``ModelInfer`` with the observations as raw little-endian bytes."""

    def __init__(self, host: str, port: int, model: str,
                 metadata: list[tuple[str, str]] | None = None,
                 retry: RetryPolicy | None = None, tls: bool = False) -> None:
        super().__init__(host, port, metadata, retry, tls)
        self.model = model
        self._infer = self._channel.unary_unary(
            method("ModelInfer"), request_serializer=_serialize,
            response_deserializer=CLASSES["ModelInferResponse"].FromString)

    def predict(self, rows: np.ndarray) -> Reply:
        started = time.perf_counter()
        rows = np.asarray(rows, dtype="<f4")
        request = CLASSES["ModelInferRequest"](model_name=self.model)
        request.inputs.add(name="obs", datatype="FP32", shape=list(rows.shape))
        request.outputs.add(name="action")
        request.raw_input_contents.append(rows.tobytes())
        response = self._call(self._infer, request, "ModelInfer")
        index = next((i for i, o in enumerate(response.outputs) if o.name == "action"), None)
        if index is None or index >= len(response.raw_output_contents):
            raise BadAnswer("the answer has no raw 'action' output")
        actions = np.frombuffer(response.raw_output_contents[index], dtype="<i8")
        routing_text = response.parameters["routing"].string_param \
            if "routing" in response.parameters else ""
        routing = json.loads(routing_text) if routing_text else {}
        return Reply(check_actions(actions, len(rows)), routing, response,
                     time.perf_counter() - started)

    def feedback(self, rows: np.ndarray, reply: Reply, reward: float) -> None:
        _say_once(f"{self.url}: the Open Inference Protocol over gRPC has no feedback; "
                  "rewards are not sent")


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()
