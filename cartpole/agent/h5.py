"""Keras .h5 model files, written and read with h5py alone (no TensorFlow, no Keras).

The file is the legacy Keras HDF5 layout of a ``Sequential`` MLP: the model's config
as JSON in the root attributes, and the weights under
``model_weights/<layer>/<model>/<layer>/{kernel,bias}``. The config is written as
Keras 2 wrote it (``batch_input_shape``, dtype names as strings), which Keras 2.x
and Keras 3 both load with ``keras.models.load_model(path, compile=False)``; the
tests load every written file in Keras 3 and compare its predictions with ours.

Reading checks the file against its metadata's digest first
(``modelfile.read_pair``): a ``.h5`` whose ``.json`` describes another model raises
ModelMismatchError.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cartpole import __version__
from cartpole.agent.modelfile import read_pair
from cartpole.agent.policy import NumpyPolicy
from cartpole.fileio import write_with

MODEL_NAME = "q_network"
INPUT_NAME = "obs"
OUTPUT_NAME = "q_values"
KERAS_FORMAT_VERSION = "2.15.0"  # the Keras release whose .h5 layout this writes


def layer_names(n_layers: int) -> list[str]:
    """Dense layer names: ``hidden_0``, ``hidden_1``, ..., then ``q_values``."""
    return [f"hidden_{i}" for i in range(n_layers - 1)] + [OUTPUT_NAME]


def save_h5(path: str | Path, weights: Sequence[np.ndarray]) -> None:
    """Save an MLP given as kernels and biases (layer order) as a .h5, atomically."""
    write_with(path, h5_writer(weights))


def h5_writer(weights: Sequence[np.ndarray]) -> Callable[[Path], None]:
    """A function that writes the MLP ``weights`` as a Keras .h5 at the path it is given."""
    kernels = [np.asarray(w, dtype=np.float32) for w in weights[0::2]]
    biases = [np.asarray(b, dtype=np.float32) for b in weights[1::2]]
    if not kernels or len(kernels) != len(biases):
        raise ValueError("weights must alternate kernel, bias")
    names = layer_names(len(kernels))
    config = json.dumps(model_config(kernels[0].shape[0], [k.shape[1] for k in kernels]))

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["keras_version"] = KERAS_FORMAT_VERSION
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = config
            f.attrs["writer"] = f"cartpole {__version__}"
            root = f.create_group("model_weights")
            root.attrs["keras_version"] = KERAS_FORMAT_VERSION
            root.attrs["backend"] = "tensorflow"
            root.attrs["layer_names"] = np.array([n.encode() for n in names])
            for name, kernel, bias in zip(names, kernels, biases, strict=True):
                group = root.create_group(name)
                group.attrs["weight_names"] = np.array(
                    [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
                inner = group.create_group(name)
                inner.create_dataset("kernel:0", data=kernel)
                inner.create_dataset("bias:0", data=bias)

    return write


def model_config(obs_dim: int, units: Sequence[int]) -> dict[str, Any]:
    """The Keras ``Sequential`` config of the MLP: ReLU hidden layers, a linear output."""
    names = layer_names(len(units))
    layers: list[dict[str, Any]] = [{
        "class_name": "InputLayer",
        "config": {"batch_input_shape": [None, obs_dim], "dtype": "float32",
                   "sparse": False, "ragged": False, "name": INPUT_NAME},
    }]
    for name, size in zip(names, units, strict=True):
        layers.append({"class_name": "Dense", "config": {
            "name": name, "trainable": True, "dtype": "float32", "units": int(size),
            "activation": "linear" if name == OUTPUT_NAME else "relu", "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None,
        }})
    return {"class_name": "Sequential",
            "config": {"name": MODEL_NAME, "layers": layers},
            "keras_version": KERAS_FORMAT_VERSION, "backend": "tensorflow"}


def read_dense_weights(path: str | Path) -> list[np.ndarray]:
    """Kernels and biases in layer order, from ``model_weights/<layer>/.../{kernel,bias}``."""
    return dense_weights(read_pair(path).data, path)


def dense_weights(data: bytes, name: str | Path = "<bytes>") -> list[np.ndarray]:
    """The Dense weights of a Keras .h5 held in memory (``name`` is for errors only)."""
    with h5py.File(io.BytesIO(data), "r") as f:
        root = f.get("model_weights", f)
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in root.attrs.get("layer_names", list(root.keys()))]
        weights: list[np.ndarray] = []
        for layer in names:
            found: dict[str, np.ndarray] = {}

            def visit(key: str, obj: object, found: dict[str, np.ndarray] = found) -> None:
                if isinstance(obj, h5py.Dataset):
                    leaf = key.rsplit("/", 1)[-1].split(":")[0]
                    if leaf in ("kernel", "bias"):
                        found[leaf] = obj[()]

            root[layer].visititems(visit)
            if "kernel" in found:
                weights.extend([found["kernel"], found["bias"]])
    if not weights:
        raise ValueError(f"no Dense kernels found in {name}")
    return weights


def load_policy(path: str | Path) -> NumpyPolicy:
    return NumpyPolicy(read_dense_weights(path))
