"""Read a Keras .h5 model's Dense weights with h5py alone (no TensorFlow).

The file is checked against its metadata's digest first (``modelfile.read_pair``):
a ``.h5`` whose ``.json`` describes another model raises ModelMismatchError.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

from cartpole.agent.modelfile import read_pair
from cartpole.agent.policy import NumpyPolicy


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
