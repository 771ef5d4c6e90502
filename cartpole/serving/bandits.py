"""Multi-armed bandits that route requests between model branches and learn from rewards."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from cartpole.serving.errors import BadRequest


def _branches(n_branches: Any) -> int:
    try:
        n = int(n_branches)
    except (TypeError, ValueError):
        raise BadRequest(f"n_branches must be an integer, got {n_branches!r}") from None
    if n < 1:
        raise BadRequest(f"n_branches must be at least 1, got {n}")
    return n


class Bandit:
    """Shared bookkeeping: pulls and mean reward per branch, under a lock."""

    def __init__(self, n_branches: Any, seed: Any = None) -> None:
        self.n = _branches(n_branches)
        self.rng = np.random.default_rng(None if seed in (None, "") else int(seed))
        self.counts = np.zeros(self.n, dtype=np.int64)  # rewards received per branch
        self.values = np.zeros(self.n)  # their running mean
        self.routed = np.zeros(self.n, dtype=np.int64)  # requests sent per branch
        self._lock = threading.Lock()

    def choose(self) -> int:
        with self._lock:
            branch = self._choose()
            self.routed[branch] += 1
            return branch

    def _choose(self) -> int:
        raise NotImplementedError

    def update(self, branch: Any, reward: Any) -> None:
        try:
            b, r = int(branch), float(reward)
        except (TypeError, ValueError):
            raise BadRequest(f"feedback needs a branch and a numeric reward, got "
                             f"{branch!r}, {reward!r}") from None
        if not 0 <= b < self.n:
            raise BadRequest(f"branch must be in 0..{self.n - 1}, got {b}")
        if not np.isfinite(r):
            raise BadRequest("reward must be a finite number")
        with self._lock:
            self.counts[b] += 1
            self.values[b] += (self._reward(r) - self.values[b]) / self.counts[b]

    def _reward(self, reward: float) -> float:
        return reward

    def state(self) -> dict[str, list[float]]:
        with self._lock:
            return {"routed": self.routed.tolist(), "rewarded": self.counts.tolist(),
                    "mean_reward": self.values.tolist()}

    def _argmax(self, scores: np.ndarray) -> int:
        """A best branch, ties broken at random; NaN scores never win."""
        finite = np.where(np.isnan(scores), -np.inf, scores)
        best = np.flatnonzero(finite == finite.max())
        return int(self.rng.choice(best))


class EpsilonGreedy(Bandit):
    """A branch that has had no reward yet first; then, with probability ``epsilon``, a
    random branch, else the best mean reward so far. Without that first try, the first
    reward, however poor, would win against branches still at zero."""

    def __init__(self, n_branches: Any = 3, epsilon: Any = 0.1, seed: Any = None) -> None:
        super().__init__(n_branches, seed)
        try:
            self.epsilon = float(epsilon)
        except (TypeError, ValueError):
            raise BadRequest(f"epsilon must be a number, got {epsilon!r}") from None
        if not 0 <= self.epsilon <= 1:
            raise BadRequest(f"epsilon must be in [0, 1], got {self.epsilon}")

    def _choose(self) -> int:
        untried = np.flatnonzero(self.counts == 0)
        if untried.size:
            return int(self.rng.choice(untried))
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n))
        return self._argmax(self.values)


class ThompsonSampling(Bandit):
    """Beta-Bernoulli Thompson sampling; rewards are clipped to [0, 1] (a success rate)."""

    def _reward(self, reward: float) -> float:
        return min(1.0, max(0.0, reward))

    def _choose(self) -> int:
        successes = self.values * self.counts
        draws = self.rng.beta(1.0 + successes, 1.0 + self.counts - successes)
        return self._argmax(draws)
