"""Components for seldon-core's Python wrapper (``seldon-core-microservice``).

Plain classes: nothing here imports seldon_core, which runs in an environment of its
own (see ``seldon/``). Seldon passes the graph's parameters as keyword arguments, as
strings or typed values; the model loads in ``load()``, once per worker process.

    seldon-core-microservice cartpole.serving.seldon.CartpoleModel --service-type MODEL
    seldon-core-microservice cartpole.serving.seldon.EpsilonGreedyRouter --service-type ROUTER
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from cartpole.serving.bandits import Bandit, EpsilonGreedy, ThompsonSampling
from cartpole.serving.errors import ModelNotReady
from cartpole.serving.policy import ServedPolicy
from cartpole.serving.seldon_errors import SeldonErrors

DEFAULT_MODEL = "/mnt/models/cartpole-rl-remote.h5"


class CartpoleModel(SeldonErrors):
    """MODEL: one action per observation row, from the DQN's Q-values."""

    def __init__(self, model_file: str = DEFAULT_MODEL, mode: str = "greedy",
                 temperature: Any = 1.0, seed: Any = None) -> None:
        self.model_file, self.mode = model_file, mode
        self.temperature = float(temperature)
        self.policy: ServedPolicy | None = None
        self._rng = np.random.default_rng(None if seed in (None, "") else int(seed))
        self._lock = threading.Lock()
        self._actions: np.ndarray | None = None
        self._last_q: np.ndarray | None = None
        self._feedback = 0
        self._reward_sum = 0.0

    def load(self) -> None:
        self.policy = ServedPolicy.load(self.model_file)
        self._actions = np.zeros(self.policy.n_actions, dtype=np.int64)

    def _ready(self) -> ServedPolicy:
        if self.policy is None:
            raise ModelNotReady("the model is not loaded yet")
        return self.policy

    def predict(self, X: Any, feature_names: Any = None, meta: Any = None) -> np.ndarray:
        policy = self._ready()
        q = policy.q_values(X)
        if self.mode == "sample":
            actions = policy.act(X, "sample", self.temperature, self._rng)
        else:
            actions = q.argmax(axis=1)
        with self._lock:
            np.add.at(self._actions, actions, 1)
            self._last_q = q
        return actions.reshape(-1, 1)

    def send_feedback(self, features: Any, feature_names: Any, reward: Any, truth: Any,
                      routing: Any = None) -> list[Any]:
        with self._lock:
            self._feedback += 1
            self._reward_sum += float(reward or 0.0)
        return []

    def metrics(self) -> list[dict[str, Any]]:
        with self._lock:
            actions = [] if self._actions is None else self._actions.tolist()
            q = self._last_q
        out: list[dict[str, Any]] = [
            {"type": "GAUGE", "key": f"cartpole_action_{a}_total", "value": n}
            for a, n in enumerate(actions)]
        if q is not None and q.size:
            out += [{"type": "GAUGE", "key": "cartpole_q_mean", "value": float(q.mean())},
                    {"type": "GAUGE", "key": "cartpole_q_max", "value": float(q.max())}]
        out.append({"type": "GAUGE", "key": "cartpole_feedback_total",
                    "value": self._feedback})
        return out

    def tags(self) -> dict[str, Any]:
        policy = self._ready()
        meta = policy.metadata
        return {"model_version": f"{meta.get('group', '?')}/{meta.get('trial', '?')}"
                                 f"@{policy.digest}",
                "score": meta.get("score"), "env_id": meta.get("env_id")}

    def health_status(self) -> dict[str, Any]:
        policy = self._ready()
        return {"status": "ok", "obs_dim": policy.obs_dim, "n_actions": policy.n_actions}


class _Router(SeldonErrors):
    """ROUTER: a bandit chooses the branch; ``send_feedback`` brings its reward."""

    bandit: Bandit

    def route(self, features: Any, feature_names: Any = None) -> int:
        return self.bandit.choose()

    def send_feedback(self, features: Any, feature_names: Any, reward: Any, truth: Any,
                      routing: Any = None) -> list[Any]:
        self.bandit.update(_branch(routing), reward)
        return []

    def metrics(self) -> list[dict[str, Any]]:
        state = self.bandit.state()
        return [{"type": "GAUGE", "key": f"cartpole_branch_{b}_{name}", "value": v}
                for name, values in state.items() for b, v in enumerate(values)]

    def tags(self) -> dict[str, Any]:
        return {"router": type(self).__name__, "n_branches": self.bandit.n}


class EpsilonGreedyRouter(_Router):
    def __init__(self, n_branches: Any = 3, epsilon: Any = 0.1, seed: Any = None) -> None:
        self.bandit = EpsilonGreedy(n_branches, epsilon, seed)


class ThompsonRouter(_Router):
    def __init__(self, n_branches: Any = 3, seed: Any = None) -> None:
        self.bandit = ThompsonSampling(n_branches, seed)


def _branch(routing: Any) -> Any:
    """The branch this router chose, from the feedback's routing (an int or a dict)."""
    if isinstance(routing, dict):
        values = list(routing.values())
        return values[0] if len(values) == 1 else routing.get("router", values[-1])
    return routing
