"""Greedy evaluation: the episodes of one evaluation stepped together, one forward pass per step.

Classic CartPole runs on gymnasium's numpy ``CartPoleVectorEnv``, so a whole evaluation
costs one vector step per time step. Each episode starts from the state a single env's
``reset(seed=s)`` draws, so the returns are exactly those of single envs seeded one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv
from gymnasium.utils import seeding
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from cartpole.envs.make import make_env

GreedyFn = Callable[[np.ndarray], np.ndarray]

# Wrappers that leave CartPole's dynamics, rewards and observations alone
# (TimeLimit's limit is carried over to the vector env).
_PLAIN_WRAPPERS = (TimeLimit, OrderEnforcing, PassiveEnvChecker)
_NO_LIMIT = int(np.iinfo(np.int32).max)  # the vector env counts steps in int32


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


class Evaluator:
    """Plays one greedy episode per seed on ``env_id``, every episode of a run stepped together.

    Classic CartPole (``CartPole-v0``/``-v1``) steps all of a run's episodes at once on a
    ``CartPoleVectorEnv`` exactly as wide as the run (``width`` does not bound it: a wide
    vector step costs about what a narrow one does). Any other env plays on up to
    ``width`` envs made by ``make_env``, in chunks, each stepped in Python. Either way a
    run's returns equal those of a single ``make_env(env_id, max_episode_steps)`` env
    reset with each seed in turn, under the same actions.
    """

    def __init__(self, env_id: str, max_episode_steps: int | None = None, width: int = 32) -> None:
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.env_id, self.max_episode_steps, self.width = env_id, max_episode_steps, width
        probe = make_env(env_id, max_episode_steps)  # validates the id and the override
        self._cartpole = _classic_cartpole(probe)
        self._envs: list[gym.Env] = []
        self._vectors: dict[int, CartPoleVectorEnv] = {}  # by width: one per run size
        if self._cartpole is None:
            self._envs.append(probe)
        else:
            probe.close()

    @property
    def vectorised(self) -> bool:
        """True when runs step on gymnasium's numpy CartPole vector env."""
        return self._cartpole is not None

    def run(self, act: GreedyFn, seeds: Sequence[int]) -> EvalResult:
        """One greedy episode per seed; ``act`` maps observations ``[n, obs_dim]`` to actions."""
        if len(seeds) == 0:
            return EvalResult(())
        if self._cartpole is not None:
            return EvalResult(tuple(self._run_vector(act, list(seeds), *self._cartpole)))
        while len(self._envs) < min(self.width, len(seeds)):
            self._envs.append(make_env(self.env_id, self.max_episode_steps))
        return evaluate(self._envs, act, seeds)

    def close(self) -> None:
        for env in self._envs:
            env.close()
        for vector in self._vectors.values():
            vector.close()
        self._vectors = {}

    def _run_vector(self, act: GreedyFn, seeds: list[int], limit: int,
                    sutton_barto: bool) -> list[float]:
        n = len(seeds)
        env = self._vectors.get(n)
        if env is None:
            env = self._vectors[n] = CartPoleVectorEnv(
                num_envs=n, max_episode_steps=limit, sutton_barto_reward=sutton_barto)
        env.reset()  # step counters and autoreset flags back to zero
        env.state[:] = np.stack([_initial_state(s) for s in seeds], axis=1)
        obs = env.state.T.astype(np.float32)
        actions = np.zeros(n, dtype=np.int64)
        totals = np.zeros(n)
        live = np.arange(n)  # episodes still running; finished ones are stepped, never counted
        while live.size:
            actions[live] = act(obs[live])
            obs, reward, terminated, truncated, _ = env.step(actions)
            totals[live] += reward[live]
            live = live[~(terminated[live] | truncated[live])]
        return totals.tolist()


def _initial_state(seed: int) -> np.ndarray:
    """The state ``CartPoleEnv.reset(seed=seed)`` draws (default bounds)."""
    rng, _ = seeding.np_random(seed)
    return rng.uniform(low=-0.05, high=0.05, size=(4,))


def _classic_cartpole(env: gym.Env) -> tuple[int, bool] | None:
    """(step limit, sutton_barto_reward) if ``env`` is plain classic CartPole, else None."""
    limit = _NO_LIMIT
    while isinstance(env, gym.Wrapper):
        if type(env) not in _PLAIN_WRAPPERS:
            return None
        if isinstance(env, TimeLimit):
            limit = min(limit, int(env._max_episode_steps))
        env = env.env
    if type(env) is not CartPoleEnv:  # a subclass may change the dynamics
        return None
    return limit, bool(env._sutton_barto_reward)


def evaluate(envs: Sequence[gym.Env], act: GreedyFn, seeds: Sequence[int]) -> EvalResult:
    """Play one greedy episode per seed, stepping up to ``len(envs)`` episodes at once.

    ``act`` maps a batch of observations ``[n, obs_dim]`` to actions ``[n]``. The
    generic path of ``Evaluator``; prefer ``Evaluator``, which vectorises CartPole.
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
