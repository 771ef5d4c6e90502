"""A trained model as ONNX, and as a Triton model repository (numpy, h5py and onnx only).

The ``.h5`` is read as serving reads it: with its metadata ``.json`` as one pair whose
digests agree (``agent.modelfile.read_pair``), then its Dense kernels and biases
(``agent.h5.dense_weights``). The graph is built with the ``onnx`` package's helper API,
one ``MatMul``, ``Add`` (and ``Relu`` but for the output layer) per layer, so it is
exactly :class:`~cartpole.agent.policy.NumpyPolicy`:

- input ``obs``: float32 ``[N, obs_dim]``;
- outputs ``q_values``: float32 ``[N, n_actions]``, and ``action``: int64 ``[N]``, the
  ``ArgMax`` of the Q-values (the first maximum on a tie, as numpy's ``argmax``).

The graph uses opset 17 and IR version 8, which onnxruntime has run since 1.12 and
Triton's onnxruntime backend since 22.x, so older servers load it too. Before anything is
written, onnx's checker validates the model and onnx's reference evaluator (pure numpy)
runs it on random observations against the numpy policy.

Written to ``out_dir``::

    out_dir/model.onnx                  the model
    out_dir/<name>/config.pbtxt         Triton's model configuration
    out_dir/<name>/1/model.onnx         the same model, as version 1

``out_dir`` is a Triton model repository (``tritonserver --model-repository out_dir``),
and ``out_dir/<name>`` is what a Seldon Core 2 ``Model`` with ``requirements: [onnx]``
takes as its ``storageUri``. ``onnx`` is imported only when a model is exported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cartpole import __version__
from cartpole.agent.h5 import dense_weights
from cartpole.agent.modelfile import SETTLE_SECONDS, read_pair
from cartpole.agent.policy import NumpyPolicy
from cartpole.errors import CartpoleError, ModelMismatchError, OutputError, first_line
from cartpole.fileio import check_writable_dir, write_bytes, write_text
from cartpole.paths import model_paths

if TYPE_CHECKING:
    import onnx

FORMATS = ("onnx",)
DEFAULT_NAME = "cartpole"
INPUT = "obs"
Q_VALUES = "q_values"
ACTION = "action"
BATCH = "N"  # the symbolic batch dimension of every input and output
OPSET = 17
IR_VERSION = 8
ONNX_FILE = "model.onnx"
CONFIG_FILE = "config.pbtxt"
VERSION_DIR = "1"
TRITON_PLATFORM = "onnxruntime_onnx"
CHECK_ROWS = 256  # observations the reference evaluator runs before anything is written
CHECK_ATOL = 1e-5

# A Triton model name is a folder name: no separators, no leading dot.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class ExportError(CartpoleError):
    """The model or the options cannot be exported: a missing or unreadable .h5, a file
    that is not a Dense MLP, an unknown format, a bad model name."""

    exit_code = 2


class ExportMismatchError(ExportError, ModelMismatchError):
    """The .h5 and its metadata .json come from two different models."""

    exit_code = 2  # a model file named by the user, as ``serve`` reports it


class ExportCheckError(ExportError):
    """The built graph does not compute what the numpy policy computes (a bug, not input)."""

    exit_code = 1


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote, and the shape of the model."""

    onnx_path: Path
    model_dir: Path  # out_dir/<name>: the Triton model folder (Seldon Core 2's storageUri)
    config_path: Path
    versioned_path: Path
    obs_dim: int
    n_actions: int
    hidden_sizes: tuple[int, ...]
    digest: str  # sha256 of the .h5 exported

    def as_dict(self) -> dict[str, Any]:
        return {"format": "onnx", "onnx": str(self.onnx_path),
                "triton_model": str(self.model_dir), "config": str(self.config_path),
                "obs_dim": self.obs_dim, "n_actions": self.n_actions,
                "hidden_sizes": list(self.hidden_sizes), "model_sha256": self.digest}


def export_model(model: str | Path, out_dir: str | Path, fmt: str = "onnx",
                 name: str = DEFAULT_NAME, settle: float = SETTLE_SECONDS) -> ExportResult:
    """Export ``model`` (a ``.h5``; the suffix is optional) in ``fmt`` to ``out_dir``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: cartpole export writes "
                          f"{', '.join(FORMATS)}")
    check_name(name)
    require_onnx()
    h5, _ = model_paths(model)
    given = Path(model)
    if not h5.exists() and given.is_file():  # a file that exists, but is no .h5
        raise ExportError(f"{given} is not a model: give the .h5 that `cartpole train` "
                          "wrote")
    weights, digest = read_weights(h5, settle)
    proto = build_onnx(weights, source=h5.name, digest=digest)
    check_against_numpy(proto, weights)
    check_writable_dir(out_dir, "output folder")
    return write_repository(proto, Path(out_dir), name, digest)


def require_onnx() -> None:
    """Import ``onnx`` (here, not at import time), or say which extra brings it."""
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ExportError(f"export to ONNX needs {exc.name}: "
                          "pip install 'cartpole[onnx]'") from None


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ExportError(f"model name {name!r} must be a folder name: letters, digits, "
                          "'_', '.', '-', not starting with '.' or '-'")


def read_weights(h5: Path, settle: float = SETTLE_SECONDS) -> tuple[list[np.ndarray], str]:
    """Kernels and biases of ``h5`` (checked against its metadata .json), and its digest."""
    try:
        pair = read_pair(h5, settle=settle)
    except ModelMismatchError as exc:
        raise ExportMismatchError(str(exc)) from None
    except FileNotFoundError:
        raise ExportError(f"no model at {h5}") from None
    except OSError as exc:
        raise ExportError(f"cannot read the model {h5}: {exc.strerror or exc}") from None
    try:
        weights = dense_weights(pair.data, h5)
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"{h5} is not a Keras .h5 of Dense layers: {first_line(exc)}"
                          ) from None
    check_mlp(weights, h5)
    return [np.asarray(w, dtype=np.float32) for w in weights], pair.digest


def check_mlp(weights: list[np.ndarray], h5: Path) -> None:
    """Kernels ``[in, out]`` and biases ``[out]`` that chain from layer to layer."""
    kernels, biases = weights[0::2], weights[1::2]
    width = None
    for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        if kernel.ndim != 2 or bias.shape != (kernel.shape[1],) or (
                width is not None and kernel.shape[0] != width):
            raise ExportError(f"{h5} is not an MLP: layer {i} has a kernel of shape "
                              f"{kernel.shape} and a bias of shape {bias.shape}")
        width = kernel.shape[1]


def build_onnx(weights: list[np.ndarray], source: str = "", digest: str = "") -> onnx.ModelProto:
    """The MLP as an ONNX model: MatMul, Add and Relu per hidden layer; ArgMax at the end."""
    from onnx import TensorProto, helper, numpy_helper

    kernels, biases = weights[0::2], weights[1::2]
    obs_dim, n_actions = kernels[0].shape[0], kernels[-1].shape[1]
    nodes, initializers = [], []
    x = INPUT
    last = len(kernels) - 1
    for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        layer = Q_VALUES if i == last else f"hidden_{i}"
        initializers += [numpy_helper.from_array(kernel, f"{layer}/kernel"),
                         numpy_helper.from_array(bias, f"{layer}/bias")]
        nodes.append(helper.make_node("MatMul", [x, f"{layer}/kernel"], [f"{layer}/matmul"],
                                      name=f"{layer}/MatMul"))
        out = Q_VALUES if i == last else f"{layer}/add"
        nodes.append(helper.make_node("Add", [f"{layer}/matmul", f"{layer}/bias"], [out],
                                      name=f"{layer}/Add"))
        if i < last:
            nodes.append(helper.make_node("Relu", [out], [f"{layer}/relu"],
                                          name=f"{layer}/Relu"))
            out = f"{layer}/relu"
        x = out
    nodes.append(helper.make_node("ArgMax", [Q_VALUES], [ACTION], name="action/ArgMax",
                                  axis=1, keepdims=0, select_last_index=0))
    graph = helper.make_graph(
        nodes, "q_network",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [BATCH, obs_dim])],
        [helper.make_tensor_value_info(Q_VALUES, TensorProto.FLOAT, [BATCH, n_actions]),
         helper.make_tensor_value_info(ACTION, TensorProto.INT64, [BATCH])],
        initializer=initializers,
        doc_string="DQN Q-network: Q-values per action, and the greedy action")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="cartpole", producer_version=__version__,
                              doc_string=f"exported by cartpole export from {source}".strip())
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"source": source, "source_sha256": digest,
                                   "obs_dim": str(obs_dim), "n_actions": str(n_actions)})
    return model


def check_against_numpy(model: onnx.ModelProto, weights: list[np.ndarray],
                        rows: int = CHECK_ROWS) -> None:
    """Validate ``model`` with onnx's checker, and run it with onnx's reference evaluator
    on random observations: the same actions and Q-values as the numpy policy, or
    ExportCheckError."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportCheckError(f"the ONNX graph is not valid: {exc}".splitlines()[0]) from None
    policy = NumpyPolicy(weights)
    obs = np.random.default_rng(0).normal(scale=2.0, size=(rows, policy.obs_dim))
    obs = obs.astype(np.float32)
    q, action = ReferenceEvaluator(model).run(None, {INPUT: obs})
    want = policy.q_values(obs)
    if not np.allclose(q, want, rtol=CHECK_ATOL, atol=CHECK_ATOL):
        raise ExportCheckError("the ONNX graph's Q-values differ from the numpy policy's")
    top = np.sort(want, axis=1)
    clear = top[:, -1] - top[:, -2] > CHECK_ATOL if want.shape[1] > 1 else slice(None)
    if action.dtype != np.int64 or not np.array_equal(action[clear],
                                                      want.argmax(axis=1)[clear]):
        raise ExportCheckError("the ONNX graph's actions differ from the numpy policy's")


def triton_config(name: str, obs_dim: int, n_actions: int, source: str = "",
                  digest: str = "") -> str:
    """Triton's ``config.pbtxt`` for the graph: onnxruntime, the batch inside the dims.

    ``max_batch_size: 0`` because the batch is already the graph's first dimension
    (``-1``) and ``action`` has no other dimension: every request may carry any number
    of rows, which Triton passes to the graph as they are.
    """
    header = "# Written by cartpole export"
    if source:
        header += f" from {source.encode('unicode_escape').decode('ascii')}"
    if digest:
        header += f" (sha256 {digest[:12]})"
    return f"""{header}
name: "{name}"
platform: "{TRITON_PLATFORM}"
max_batch_size: 0
input [
  {{
    name: "{INPUT}"
    data_type: TYPE_FP32
    dims: [ -1, {obs_dim} ]
  }}
]
output [
  {{
    name: "{Q_VALUES}"
    data_type: TYPE_FP32
    dims: [ -1, {n_actions} ]
  }},
  {{
    name: "{ACTION}"
    data_type: TYPE_INT64
    dims: [ -1 ]
  }}
]
instance_group [
  {{
    count: 1
    kind: KIND_CPU
  }}
]
version_policy: {{ latest: {{ num_versions: 1 }} }}
"""


def write_repository(model: onnx.ModelProto, out_dir: Path, name: str,
                     digest: str = "") -> ExportResult:
    """``out_dir/model.onnx``, ``out_dir/<name>/config.pbtxt`` and
    ``out_dir/<name>/1/model.onnx``, each written atomically."""
    data = model.SerializeToString()
    graph = model.graph
    obs_dim = graph.input[0].type.tensor_type.shape.dim[1].dim_value
    n_actions = graph.output[0].type.tensor_type.shape.dim[1].dim_value
    hidden = tuple(int(init.dims[1]) for init in graph.initializer
                   if init.name.endswith("/kernel"))[:-1]
    props = {p.key: p.value for p in model.metadata_props}
    model_dir = out_dir / name
    paths = (out_dir / ONNX_FILE, model_dir / CONFIG_FILE, model_dir / VERSION_DIR / ONNX_FILE)
    try:
        write_bytes(paths[0], data)
        write_bytes(paths[2], data)
        write_text(paths[1], triton_config(name, obs_dim, n_actions, props.get("source", ""),
                                           digest))
    except OSError as exc:
        raise OutputError(f"cannot write the export to {out_dir}: "
                          f"{exc.strerror or exc}") from None
    return ExportResult(paths[0], model_dir, paths[1], paths[2], obs_dim, n_actions, hidden,
                        digest)


__all__ = ["DEFAULT_NAME", "FORMATS", "ExportCheckError", "ExportError", "ExportMismatchError",
           "ExportResult", "build_onnx", "export_model", "triton_config"]
