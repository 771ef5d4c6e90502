"""What ``cartpole serve`` serves: one model, or a router or A/B split over several.

A graph answers one request with one action per observation row, and says which
branch answered (``routing``, as Seldon's executor reports it). Feedback carries that
routing back so that a router learns from the reward.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartpole.errors import ConfigError
from cartpole.serving.bandits import Bandit, EpsilonGreedy, ThompsonSampling
from cartpole.serving.errors import BadRequest
from cartpole.serving.policy import ServedPolicy, softmax, validate_observations

ROUTERS = ("epsilon-greedy", "thompson", "abtest")


@dataclass
class Answer:
    actions: np.ndarray
    q_values: np.ndarray
    branch: int | None  # None for a single model


class Graph:
    """Models behind an optional chooser; ``routing`` names the choosing unit.

    Mistakes in the set-up (no model, models that differ, router settings) raise
    ConfigError when the graph is made; BadRequest is for requests that cannot be used.
    """

    def __init__(self, policies: list[ServedPolicy], router: str | None = None,
                 epsilon: float = 0.1, ratio_a: float = 0.5, seed: int | None = None) -> None:
        if not policies:
            raise ConfigError("serve needs at least one model")
        dims = {(p.obs_dim, p.n_actions) for p in policies}
        if len(dims) > 1:
            raise ConfigError(f"the models' spaces differ: {sorted(dims)}")
        self.policies = policies
        self.router = router if len(policies) > 1 or router else None
        if self.router is None and len(policies) > 1:
            raise ConfigError("several models need --router (" + ", ".join(ROUTERS) + ")")
        self.bandit: Bandit | None = None
        if self.router == "epsilon-greedy":
            try:
                self.bandit = EpsilonGreedy(len(policies), epsilon, seed)
            except BadRequest as exc:  # its epsilon, checked as it is made
                raise ConfigError(str(exc)) from None
        elif self.router == "thompson":
            self.bandit = ThompsonSampling(len(policies), seed)
        elif self.router == "abtest":
            if len(policies) != 2:
                raise ConfigError("abtest needs exactly two models")
            if not 0 <= ratio_a <= 1:
                raise ConfigError(f"ratio_a must be in [0, 1], got {ratio_a}")
        elif self.router is not None:
            raise ConfigError(f"unknown router {self.router!r} (choose from "
                              f"{', '.join(ROUTERS)})")
        self.ratio_a = ratio_a
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.unit = self.router or "model"
        self.obs_dim: int = policies[0].obs_dim

    def _choose(self) -> int | None:
        if self.bandit is not None:
            return self.bandit.choose()
        if self.router == "abtest":
            with self._lock:
                return 0 if self._rng.random() < self.ratio_a else 1
        return None

    def route(self, rows: Any) -> int:
        """The branch a request with these observations goes to (router graphs only)."""
        validate_observations(rows, self.obs_dim)
        branch = self._choose()
        if branch is None:
            raise BadRequest("this graph has one model and no router")
        return branch

    def predict(self, rows: Any, mode: str = "greedy", temperature: float = 1.0) -> Answer:
        obs = validate_observations(rows, self.obs_dim)
        branch = self._choose()
        policy = self.policies[branch or 0]
        q = policy.network.q_values(obs)
        if mode == "greedy":
            actions = q.argmax(axis=1)
        elif mode == "sample":
            p = softmax(q, temperature)
            with self._lock:
                u = self._rng.random((len(p), 1))
            actions = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), policy.n_actions - 1)
        else:
            raise BadRequest(f"mode must be 'greedy' or 'sample', got {mode!r}")
        return Answer(actions, q, branch)

    def feedback(self, reward: Any, routing: Any) -> None:
        """Teach the router; the branch comes from the response's ``meta.routing``."""
        if self.bandit is None:
            return
        branch = routing.get(self.unit) if isinstance(routing, dict) else routing
        if branch is None:
            raise BadRequest(f"feedback for a router needs response.meta.routing."
                             f"{self.unit}: the branch that answered")
        self.bandit.update(branch, reward)
