import gymnasium as gym
import numpy as np

from cartpole.training.selection import Selector


class SeedReward(gym.Env):
    """One-step episodes whose reward is the seed they were reset with."""

    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        self._reward = float(seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), self._reward, True, False, {}


def _act(obs):
    return np.zeros(len(obs), dtype=int)


def _weights(tag):
    return lambda: [np.full(1, tag, np.float32)]


def test_keeps_the_best_evaluated_weights():
    envs = [SeedReward() for _ in range(2)]
    sel = Selector(envs, [3, 5], [], threshold=None)
    sel.evaluate(100, _act, _weights(1), confirm=True)
    assert sel.best.score == 4.0
    sel.seeds = [1, 1]
    sel.evaluate(200, _act, _weights(2), confirm=True)
    assert sel.best.step == 100
    assert sel.best.weights[0][0] == 1
    sel.seeds = [9, 9]
    rec = sel.evaluate(300, _act, _weights(3), confirm=True)
    assert sel.best.step == 300
    assert rec["best"] == 9.0
    assert sel.solved_at is None
    assert not sel.confirmed


def test_threshold_needs_confirmation_before_stopping():
    envs = [SeedReward() for _ in range(4)]
    sel = Selector(envs, [10] * 4, [0] * 4, threshold=6.0)
    rec = sel.evaluate(100, _act, _weights(1), confirm=True)
    assert sel.solved_at is None  # reached, but its confirmation failed: not solved yet
    assert rec["confirm_mean"] == 5.0
    assert not sel.confirmed
    assert sel.best.confirmed_score is None

    sel.seeds, sel.confirm_seeds = [7] * 4, [8] * 4
    rec = sel.evaluate(200, _act, _weights(2), confirm=True)
    # a confirmed snapshot is kept even though an earlier one scored higher
    assert sel.confirmed
    assert sel.best.step == 200
    assert sel.best.confirmed_score == 7.5
    assert sel.solved_at[0] == 200  # the evaluation whose confirmation held


def test_no_confirmation_when_not_asked():
    envs = [SeedReward()]
    sel = Selector(envs, [10], [10], threshold=6.0)
    rec = sel.evaluate(1, _act, _weights(1), confirm=False)
    assert "confirm_mean" not in rec
    assert not sel.confirmed
    assert sel.solved_at is not None
