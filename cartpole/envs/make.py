"""Gymnasium environment factory: validation, seeding and space descriptions."""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from cartpole.errors import EnvError, first_line

DEFAULT_ENV = "CartPole-v1"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnvInfo:
    """What the agent needs to know about an environment."""

    env_id: str
    obs_dim: int
    n_actions: int
    reward_threshold: float | None
    max_episode_steps: int | None
    observation_space: dict[str, Any]
    action_space: dict[str, Any]


def make_env(
    env_id: str = DEFAULT_ENV,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> gym.Env:
    """Make a validated env with a Box observation and a Discrete action space."""
    kwargs: dict[str, Any] = {"disable_env_checker": True}
    if max_episode_steps is not None:
        if max_episode_steps < 1:
            raise EnvError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        kwargs["max_episode_steps"] = max_episode_steps
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = gym.make(env_id, **kwargs)
        _log_once(caught)
    except gym.error.DependencyNotInstalled as exc:
        raise EnvError(f"env {env_id!r} needs a package that is not installed: {exc}") from None
    except (gym.error.Error, ModuleNotFoundError, ImportError, TypeError) as exc:
        raise EnvError(f"unknown or unusable env {env_id!r}: {first_line(exc)}") from None
    try:
        _check_spaces(env)
    except EnvError:
        env.close()
        raise
    if len(env.observation_space.shape) != 1:
        env = gym.wrappers.FlattenObservation(env)
    if int(env.action_space.start) != 0:
        env = _ZeroBasedActions(env)
    return env


class _ZeroBasedActions(gym.ActionWrapper):
    """Maps actions 0..n-1 onto a Discrete space that starts elsewhere."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._start = int(env.action_space.start)
        self.action_space = gym.spaces.Discrete(int(env.action_space.n))

    def action(self, action: int) -> int:
        return int(action) + self._start


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_said: set[str] = set()


def _log_once(caught: list[warnings.WarningMessage]) -> None:
    """Gymnasium's warnings (deprecated env versions...) as one plain log line each."""
    for w in caught:
        text = _ANSI.sub("", str(w.message)).strip()
        if text not in _said:
            _said.add(text)
            log.warning("%s", text)


def _check_spaces(env: gym.Env) -> None:
    name = env.spec.id if env.spec else type(env.unwrapped).__name__
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise EnvError(
            f"env {name!r} has a {type(env.action_space).__name__} action space; "
            "DQN needs a Discrete one"
        )
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise EnvError(
            f"env {name!r} has a {type(env.observation_space).__name__} observation space; "
            "DQN here needs a Box one"
        )


def describe(env_id: str, max_episode_steps: int | None = None) -> EnvInfo:
    """Validate an env id and describe its spaces (the env is closed again)."""
    env = make_env(env_id, max_episode_steps)
    try:
        return EnvInfo(
            env_id=env_id,
            obs_dim=int(np.prod(env.observation_space.shape)),
            n_actions=int(env.action_space.n),
            reward_threshold=env.spec.reward_threshold if env.spec else None,
            max_episode_steps=env.spec.max_episode_steps if env.spec else None,
            observation_space=space_dict(env.observation_space),
            action_space=space_dict(env.action_space),
        )
    finally:
        env.close()


def space_dict(space: gym.Space) -> dict[str, Any]:
    """A JSON-ready description of a Box or Discrete space."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _finite_list(space.low),
            "high": _finite_list(space.high),
        }
    return {"type": type(space).__name__}


def _finite_list(values: np.ndarray) -> list[float | None]:
    """Flatten bounds to a list, with infinities as None (JSON has no infinity)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    return [float(v) if np.isfinite(v) else None for v in flat]
