"""Keras .h5 model files, written and read.

Writing takes a Keras model that the caller built (``network.build_q_network``), so
this module imports no TensorFlow: the serving path imports it to read. Reading takes
h5py alone. The file is checked against its metadata's digest first
(``modelfile.read_pair``): a ``.h5`` whose ``.json`` describes another model raises
ModelMismatchError.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cartpole.agent.modelfile import read_pair
from cartpole.agent.policy import NumpyPolicy
from cartpole.fileio import write_with


def save_keras_h5(path: str | Path, model: Any) -> None:
    """Save a Keras ``model`` as a .h5 file, atomically (no metadata)."""
    write_with(path, keras_writer(model))


def keras_writer(model: Any) -> Callable[[Path], None]:
    """A function that saves the Keras ``model`` as a .h5 at the path it is given,
    without Keras's warnings and log lines."""

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import absl.logging

            level = absl.logging.get_verbosity()
            absl.logging.set_verbosity(absl.logging.ERROR)
            try:
                model.save(tmp)
            finally:
                absl.logging.set_verbosity(level)

    return write


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
