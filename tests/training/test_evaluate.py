"""Greedy evaluation: vectorised CartPole gives exactly what single seeded envs give."""

import gymnasium as gym
import numpy as np
import pytest

from cartpole.agent.policy import NumpyPolicy
from cartpole.envs.make import make_env
from cartpole.training.evaluate import Evaluator, _classic_cartpole, evaluate

SEEDS = [3, 11, 12, 13, 14, 15, 40, 41, 97, 1000, 2**31, 5]


def _constant(action):
    return lambda obs: np.full(len(obs), action)


def _lean(obs):
    return (obs[:, 2] > 0).astype(int)  # push toward the pole's lean


def _random_mlp(obs_dim, n_actions, seed=0):
    """A fixed random 64x64 ReLU net."""
    rng = np.random.default_rng(seed)
    weights = []
    for a, b in zip([obs_dim, 64, 64], [64, 64, n_actions], strict=True):
        weights += [(3 * rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32),
                    (0.1 * rng.normal(size=b)).astype(np.float32)]
    return NumpyPolicy(weights).act


def _balancing_mlp(noise=0.1, seed=3):
    """A 64x64 net computing a balancing linear rule, perturbed: episodes of about 300-500."""
    w = np.array([0.1, 0.5, 3, 1], np.float32)
    k1 = np.zeros((4, 64), np.float32)
    k1[:, 0], k1[:, 1] = w, -w
    k2 = np.zeros((64, 64), np.float32)
    k2[0, 0] = k2[1, 1] = 1
    k3 = np.zeros((64, 2), np.float32)
    k3[1, 0] = k3[0, 1] = 1
    exact = [k1, np.zeros(64), k2, np.zeros(64), k3, np.zeros(2)]
    rng = np.random.default_rng(seed)
    return NumpyPolicy([(x + noise * rng.normal(size=x.shape)).astype(np.float32)
                        for x in exact]).act


def _one_by_one(env_id, act, seeds, max_episode_steps=None):
    """The reference: one make_env env, reset with each seed, one observation per call."""
    env = make_env(env_id, max_episode_steps)
    returns = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        total, done = 0.0, False
        while not done:
            action = act(np.asarray(obs, np.float32).reshape(1, -1))[0]
            obs, r, term, trunc, _ = env.step(int(action))
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return returns


POLICIES = {"lean": _lean, "random_mlp": _random_mlp(4, 2), "balancing_mlp": _balancing_mlp()}


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date")
@pytest.mark.parametrize("env_id", ["CartPole-v1", "CartPole-v0"])
@pytest.mark.parametrize("max_episode_steps", [None, 50])
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_vectorised_cartpole_matches_single_seeded_envs(env_id, max_episode_steps, policy):
    act = POLICIES[policy]
    ev = Evaluator(env_id, max_episode_steps, width=5)  # more seeds than width
    assert ev.vectorised
    expected = _one_by_one(env_id, act, SEEDS, max_episode_steps)
    assert list(ev.run(act, SEEDS).returns) == expected
    assert list(ev.run(act, SEEDS[:3]).returns) == expected[:3]
    ev.close()


def test_the_reference_episodes_are_not_trivial():
    returns = _one_by_one("CartPole-v1", POLICIES["balancing_mlp"], SEEDS)
    assert 200 < min(returns) < 500 and max(returns) == 500  # both ends: fall and time limit
    lean = _one_by_one("CartPole-v1", _lean, SEEDS, max_episode_steps=50)
    assert min(lean) < 50 and max(lean) == 50


def test_a_second_run_gives_the_same_returns():
    ev = Evaluator("CartPole-v1")
    act = POLICIES["balancing_mlp"]
    first = ev.run(act, SEEDS)
    ev.run(_constant(0), list(range(80)))  # another width, other episodes between
    ev.run(act, SEEDS[::-1])
    assert ev.run(act, SEEDS) == first
    assert ev.run(act, SEEDS[::-1]).returns == first.returns[::-1]
    ev.close()
    assert ev.run(act, SEEDS) == first  # usable again after close


@pytest.mark.parametrize(("env_id", "max_episode_steps"),
                         [("Acrobot-v1", 40), ("MountainCar-v0", 60)])
def test_other_envs_match_single_seeded_envs(env_id, max_episode_steps):
    info = make_env(env_id)
    act = _random_mlp(info.observation_space.shape[0], int(info.action_space.n), seed=1)
    ev = Evaluator(env_id, max_episode_steps, width=3)  # played in chunks
    assert not ev.vectorised
    seeds = [5, 6, 7, 8, 9, 10, 11]
    expected = _one_by_one(env_id, act, seeds, max_episode_steps)
    assert list(ev.run(act, seeds).returns) == expected
    assert list(ev.run(act, seeds).returns) == expected
    ev.close()


def test_only_plain_classic_cartpole_is_vectorised():
    assert _classic_cartpole(make_env("CartPole-v1")) == (500, False)
    assert _classic_cartpole(make_env("CartPole-v1", 50)) == (50, False)
    rescaled = gym.wrappers.TransformReward(make_env("CartPole-v1"), lambda r: 2 * r)
    assert _classic_cartpole(rescaled) is None


@pytest.fixture
def sutton_barto_id():
    env_id = "CartPoleSuttonBartoTest-v1"
    gym.register(env_id, "gymnasium.envs.classic_control:CartPoleEnv",
                 max_episode_steps=50, kwargs={"sutton_barto_reward": True})
    yield env_id
    del gym.registry[env_id]


def test_sutton_barto_rewards_match(sutton_barto_id):
    ev = Evaluator(sutton_barto_id)
    assert ev.vectorised
    expected = _one_by_one(sutton_barto_id, _lean, SEEDS)
    assert -1.0 in expected and 0.0 in expected  # fell, and reached the limit
    assert list(ev.run(_lean, SEEDS).returns) == expected


def test_evaluation_is_seeded():
    ev = Evaluator("CartPole-v1")
    a = ev.run(_lean, [1, 2, 3])
    assert a.returns == ev.run(_lean, [1, 2, 3]).returns
    assert a.returns != ev.run(_lean, [4, 5, 6]).returns
    assert a.mean > ev.run(_constant(0), [1, 2, 3]).mean
    assert ev.run(_lean, []).returns == ()


def test_list_of_envs_evaluation_matches_one_by_one():
    seeds = [11, 12, 13, 14, 15]
    envs = [make_env() for _ in range(2)]  # fewer envs than episodes: played in chunks
    result = evaluate(envs, _constant(1), seeds)
    single = _one_by_one("CartPole-v1", _constant(1), seeds)
    assert list(result.returns) == single
    assert result.mean == np.mean(single)
