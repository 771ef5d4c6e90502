"""Greedy evaluation: several episodes stepped side by side with one batched forward pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

GreedyFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalResult:
    returns: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    @property
    def steps(self) -> int:
        return int(sum(self.returns))  # only meaningful for reward-1-per-step envs


def evaluate(envs: Sequence[gym.Env], act: GreedyFn, seeds: Sequence[int]) -> EvalResult:
    """Play one greedy episode per seed, stepping up to ``len(envs)`` episodes at once.

    ``act`` maps a batch of observations ``[n, obs_dim]`` to actions ``[n]``.
    """
    returns: list[float] = []
    pending = list(seeds)
    width = len(envs)
    while pending:
        chunk, pending = pending[:width], pending[width:]
        returns.extend(_play_chunk(envs[: len(chunk)], act, chunk))
    return EvalResult(tuple(returns))


def _play_chunk(envs: Sequence[gym.Env], act: GreedyFn, seeds: Sequence[int]) -> list[float]:
    obs = np.stack([np.asarray(env.reset(seed=s)[0], dtype=np.float32).ravel()
                    for env, s in zip(envs, seeds, strict=True)])
    totals = np.zeros(len(envs))
    active = list(range(len(envs)))
    while active:
        actions = act(obs[active])
        still: list[int] = []
        for slot, action in zip(active, actions, strict=True):
            o, r, terminated, truncated, _ = envs[slot].step(int(action))
            totals[slot] += float(r)
            if not (terminated or truncated):
                obs[slot] = np.asarray(o, dtype=np.float32).ravel()
                still.append(slot)
        active = still
    return totals.tolist()
