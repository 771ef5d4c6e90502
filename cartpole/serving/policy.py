"""A trained policy as the server uses it: batched Q-values, greedy or sampled actions.

Loaded from the ``.h5`` and its metadata ``.json`` with numpy and h5py only, as one
pair whose digests agree (``agent.modelfile.read_pair``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cartpole.agent.h5 import dense_weights
from cartpole.agent.modelfile import read_pair
from cartpole.agent.policy import NumpyPolicy
from cartpole.errors import ModelMismatchError
from cartpole.paths import model_paths
from cartpole.serving.errors import BadRequest, MismatchedModel, ModelNotReady, TooLarge

MAX_ROWS = 10_000  # observations in one request


def validate_observations(data: Any, obs_dim: int, max_rows: int = MAX_ROWS) -> np.ndarray:
    """``data`` as a float32 array ``(n, obs_dim)``, or ``BadRequest`` saying what is wrong."""
    if data is None or (hasattr(data, "__len__") and len(data) == 0):
        raise BadRequest("no observations: send a list of rows of "
                         f"{obs_dim} numbers")
    try:
        obs = np.asarray(data, dtype=np.float32)
    except (ValueError, TypeError):
        raise BadRequest(f"observations must be numbers, in rows of {obs_dim}") from None
    if obs.ndim == 1:
        obs = obs[None, :]
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise BadRequest(f"observations must have shape (n, {obs_dim}), got "
                         f"{tuple(np.shape(data))}")
    if obs.shape[0] > max_rows:
        raise TooLarge(f"at most {max_rows} observations per request, got {obs.shape[0]}")
    if not np.isfinite(obs).all():
        raise BadRequest("observations must be finite numbers (no NaN or infinity)")
    return obs


def softmax(q: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``q / temperature``, stable for large values and for tiny
    temperatures (the maximum is subtracted before dividing, in float64)."""
    if not temperature > 0:
        raise BadRequest(f"temperature must be > 0, got {temperature}")
    z = np.asarray(q, dtype=np.float64)
    z = (z - z.max(axis=1, keepdims=True)) / temperature
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class ServedPolicy:
    network: NumpyPolicy
    metadata: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def load(cls, model_file: str | Path) -> ServedPolicy:
        """Load the .h5 and its metadata; MismatchedModel if they are not one pair."""
        h5, _ = model_paths(model_file)
        try:
            pair = read_pair(h5)  # NAME.json, or a trial folder's metadata.json
            network = NumpyPolicy(dense_weights(pair.data, h5))
        except ModelMismatchError as exc:
            raise MismatchedModel(str(exc)) from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotReady(f"cannot load the model {h5}: {exc}") from None
        return cls(network, pair.metadata or {}, pair.digest[:12])

    @property
    def obs_dim(self) -> int:
        return self.network.obs_dim

    @property
    def n_actions(self) -> int:
        return self.network.n_actions

    def q_values(self, observations: Any) -> np.ndarray:
        """Q-values ``(n, n_actions)`` for observations that pass validation."""
        return self.network.q_values(validate_observations(observations, self.obs_dim))

    def probabilities(self, observations: Any, temperature: float = 1.0) -> np.ndarray:
        return softmax(self.q_values(observations), temperature)

    def act(self, observations: Any, mode: str = "greedy", temperature: float = 1.0,
            rng: np.random.Generator | None = None) -> np.ndarray:
        """One action per row: the argmax, or a draw from the softmax over Q-values."""
        q = self.q_values(observations)
        if mode == "greedy":
            return q.argmax(axis=1)
        if mode == "sample":
            p = softmax(q, temperature)
            u = (rng or np.random.default_rng()).random((len(p), 1))
            return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), self.n_actions - 1)
        raise BadRequest(f"mode must be 'greedy' or 'sample', got {mode!r}")
