import numpy as np
import pytest

from cartpole.envs.make import describe, make_env
from cartpole.errors import EnvError


def test_cartpole_description():
    info = describe("CartPole-v1")
    assert (info.obs_dim, info.n_actions) == (4, 2)
    assert info.reward_threshold == 475.0
    assert info.max_episode_steps == 500
    assert info.observation_space["type"] == "Box"
    assert info.action_space == {"type": "Discrete", "n": 2, "start": 0}


def test_max_episode_steps_override_gives_the_original_cartpole_extra():
    env = make_env("CartPole-v1", max_episode_steps=7000)
    assert env.spec.max_episode_steps == 7000
    env.close()


def test_unknown_env():
    with pytest.raises(EnvError, match="unknown or unusable env 'NoSuchEnv-v0'"):
        make_env("NoSuchEnv-v0")


def test_continuous_actions_are_refused():
    with pytest.raises(EnvError, match="Box action space; DQN needs a Discrete one"):
        make_env("Pendulum-v1")


def test_discrete_space_with_offset_is_mapped_to_zero_based():
    import gymnasium as gym

    class Shifted(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        action_space = gym.spaces.Discrete(3, start=-1)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            assert action in (-1, 0, 1)
            return np.full(2, action, np.float32), 0.0, True, False, {}

    gym.register("ShiftedTest-v0", entry_point=lambda: Shifted())
    env = make_env("ShiftedTest-v0")
    env.reset()
    obs, *_ = env.step(0)
    assert obs[0] == -1
    assert env.action_space == gym.spaces.Discrete(3)
