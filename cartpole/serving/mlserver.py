"""``CartpoleRuntime``: our numpy policy as an MLServer custom runtime (``mlserver.MLModel``).

Imported only inside MLServer's own environment (``make mlserver-venv``, ``.venv-mlserver``):
nothing else in ``cartpole`` imports this module, so ``cartpole`` never needs mlserver.
A ``model-settings.json`` names it, and the model file in ``parameters.uri`` (absolute,
or relative to that ``model-settings.json``; a folder holding one ``.h5`` will do, as
KServe's ``/mnt/models``)::

    {"name": "cartpole", "implementation": "cartpole.serving.mlserver.CartpoleRuntime",
     "parameters": {"uri": "./cartpole-rl-remote.h5"}}

The file loads in ``load()`` (once per inference worker), never at import or construction,
with ``ServedPolicy.load``: numpy and h5py, and the ``.h5`` checked against its metadata
``.json``. The tensors are those of ``cartpole serve``'s V2 endpoint:

    input   "obs"            FP32 [N, 4]   (FP64 is accepted)
    output  "action"         INT64 [N]     the greedy action per row (the default)
            "q_values"       FP32 [N, 2]   when the request's "outputs" asks for it
            "probabilities"  FP32 [N, 2]   softmax(q / parameters.temperature), default 1

Bad input (shape, datatype, NaN, unknown output) is MLServer's ``InferenceError``: a 400
with the protocol's ``{"error": ...}`` body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mlserver import MLModel
from mlserver.errors import InferenceError, MLServerError
from mlserver.types import (
    Datatype,
    InferenceRequest,
    InferenceResponse,
    MetadataTensor,
    RequestInput,
    ResponseOutput,
)
from mlserver.utils import get_model_uri

from cartpole.paths import DEFAULT_MODEL, MODEL_FILE
from cartpole.serving.errors import BadRequest, ModelNotReady
from cartpole.serving.policy import ServedPolicy, softmax, validate_observations

# In a folder named by parameters.uri: our published name, then a trial folder's.
WELL_KNOWN = [Path(DEFAULT_MODEL).name + ".h5", MODEL_FILE]
INPUT = "obs"
OUTPUTS = ("action", "q_values", "probabilities")
DTYPES = {"FP32": np.float32, "FP64": np.float64}


class CartpoleRuntime(MLModel):
    """A trained CartPole policy behind MLServer's V2 REST and gRPC endpoints."""

    async def load(self) -> bool:
        uri = Path(await get_model_uri(self.settings, wellknown_filenames=WELL_KNOWN))
        if uri.is_dir():  # KServe's /mnt/models, say: the one .h5 in it
            found = sorted(uri.glob("*.h5"))
            if len(found) != 1:
                raise MLServerError(f"model {self.name!r}: {uri} holds {len(found)} .h5 "
                                    "files; name one in parameters.uri", 500)
            uri = found[0]
        try:
            self._policy = ServedPolicy.load(uri)
        except ModelNotReady as exc:  # unreadable, or .h5 and .json of two models
            raise MLServerError(f"model {self.name!r}: {exc}", 500) from None
        obs_dim, n_actions = self._policy.obs_dim, self._policy.n_actions
        if not self.inputs:
            self.inputs = [MetadataTensor(name=INPUT, datatype="FP32", shape=[-1, obs_dim])]
        if not self.outputs:
            self.outputs = [
                MetadataTensor(name="action", datatype="INT64", shape=[-1]),
                MetadataTensor(name="q_values", datatype="FP32", shape=[-1, n_actions]),
                MetadataTensor(name="probabilities", datatype="FP32", shape=[-1, n_actions])]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        obs = self._observations(payload.inputs)
        wanted = [out.name for out in payload.outputs or []] or ["action"]
        unknown = [name for name in wanted if name not in OUTPUTS]
        if unknown:
            raise InferenceError(f"unknown output {unknown[0]!r}; choose from "
                                 f"{', '.join(OUTPUTS)}")
        try:
            q = self._policy.network.q_values(obs)
            tensors: dict[str, np.ndarray] = {"action": q.argmax(axis=1).astype(np.int64),
                                              "q_values": q.astype(np.float32)}
            if "probabilities" in wanted:
                tensors["probabilities"] = softmax(q, _temperature(payload)).astype(np.float32)
        except BadRequest as exc:
            raise InferenceError(str(exc)) from None
        return InferenceResponse(
            model_name=self.name, model_version=self.version, id=payload.id,
            outputs=[_output(name, tensors[name]) for name in wanted])

    def _observations(self, inputs: list[RequestInput]) -> np.ndarray:
        """The one input ``obs`` as float32 ``(N, obs_dim)``, validated as ``serve`` does."""
        if len(inputs) != 1 or inputs[0].name != INPUT:
            raise InferenceError(f'send one input tensor, "{INPUT}" '
                                 f"(FP32 [N, {self._policy.obs_dim}])")
        tensor = inputs[0]
        datatype = getattr(tensor.datatype, "value", tensor.datatype)  # an enum, or a str
        if datatype not in DTYPES:
            raise InferenceError(f"input datatype must be FP32 (or FP64), got {datatype}")
        shape = list(tensor.shape)
        if len(shape) != 2 or shape[1] != self._policy.obs_dim:
            raise InferenceError(f"input shape must be [N, {self._policy.obs_dim}], "
                                 f"got {shape}")
        data = getattr(tensor.data, "root", tensor.data)
        try:
            flat = np.asarray(data, dtype=DTYPES[datatype]).ravel()
        except (TypeError, ValueError):
            raise InferenceError("input data must be numbers") from None
        if flat.size != shape[0] * shape[1]:
            raise InferenceError(f"input data has {flat.size} values, its shape {shape} "
                                 f"needs {shape[0] * shape[1]}")
        try:
            return validate_observations(flat.reshape(shape), self._policy.obs_dim)
        except BadRequest as exc:
            raise InferenceError(str(exc)) from None


def _temperature(payload: InferenceRequest) -> float:
    extra: Any = payload.parameters.model_extra if payload.parameters else None
    value = (extra or {}).get("temperature", 1.0)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InferenceError(f"temperature must be a number, got {value!r}") from None


def _output(name: str, array: np.ndarray) -> ResponseOutput:
    datatype = Datatype.INT64 if array.dtype == np.int64 else Datatype.FP32
    return ResponseOutput(name=name, datatype=datatype, shape=list(array.shape),
                          data=array.ravel().tolist())
