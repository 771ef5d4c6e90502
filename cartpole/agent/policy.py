"""Greedy acting with plain numpy: no TensorFlow call per step.

A forward pass of a small MLP in numpy costs microseconds, while one
``model.predict`` call costs tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ZERO = np.float32(0.0)


class NumpyPolicy:
    """An MLP with ReLU hidden layers and a linear output, as numpy weights."""

    def __init__(self, weights: Sequence[np.ndarray]) -> None:
        if len(weights) % 2 or not weights:
            raise ValueError("weights must alternate kernel, bias")
        self.set_weights(weights)

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        self.kernels = [np.asarray(w, dtype=np.float32) for w in weights[0::2]]
        self.biases = [np.asarray(b, dtype=np.float32) for b in weights[1::2]]
        layers = list(zip(self.kernels, self.biases, strict=True))
        self._hidden, self._out = layers[:-1], layers[-1]

    @property
    def obs_dim(self) -> int:
        return self.kernels[0].shape[0]

    @property
    def n_actions(self) -> int:
        return self.kernels[-1].shape[1]

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q-values for a batch ``[n, obs_dim]`` (or one observation ``[obs_dim]``)."""
        # One new array per layer, the bias and ReLU in place: for a served request of one
        # row, numpy's per-call cost is most of the time (about 5 us against 6.4 with
        # ``x @ k + b``).
        x = np.asarray(obs, dtype=np.float32)
        for k, b in self._hidden:
            x = np.dot(x, k)
            np.add(x, b, out=x)
            np.maximum(x, _ZERO, out=x)
        x = np.dot(x, self._out[0])
        np.add(x, self._out[1], out=x)
        return x

    def act(self, obs: np.ndarray) -> np.ndarray | int:
        """Greedy actions: one per row, or an int for a single observation."""
        q = self.q_values(obs)
        if q.ndim == 1:
            return int(q.argmax())
        return q.argmax(axis=1)
