import numpy as np
import pytest

from cartpole.agent.dqn import DQNLearner
from cartpole.agent.policy import NumpyPolicy
from cartpole.agent.replay import Batch
from cartpole.hparams import HParams


def _batch(rng, n_batches=1, batch_size=16, obs_dim=4, n_actions=2, terminal_rate=0.3):
    shape = (n_batches, batch_size)
    return Batch(
        rng.normal(size=(*shape, obs_dim)).astype(np.float32),
        rng.integers(0, n_actions, shape).astype(np.int32),
        rng.normal(size=shape).astype(np.float32),
        rng.normal(size=(*shape, obs_dim)).astype(np.float32),
        (rng.random(shape) < terminal_rate).astype(np.float32),
    )


def _huber(err):
    a = np.abs(err)
    return np.where(a <= 1.0, 0.5 * err**2, a - 0.5).mean()


def _expected_loss(online, target, b, gamma, double=True):
    q_next_online = online.q_values(b.next_obs)
    q_next_target = target.q_values(b.next_obs)
    next_a = q_next_online.argmax(axis=1) if double else q_next_target.argmax(axis=1)
    next_q = q_next_target[np.arange(len(next_a)), next_a]
    y = b.rewards + gamma * (1 - b.terminated) * next_q
    q = online.q_values(b.obs)[np.arange(len(b.actions)), b.actions]
    return _huber(y - q)


def test_loss_uses_double_dqn_targets():
    rng = np.random.default_rng(1)
    hp = HParams(hidden_sizes=(16,), gamma=0.9, target_update=1000)
    learner = DQNLearner(4, 3, hp)
    # Make the target network different from the online one.
    target_weights = [w + rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                      for w in learner.target_weights()]
    learner.set_target_weights(target_weights)
    online = NumpyPolicy(learner.weights())
    target = NumpyPolicy(target_weights)
    batch = _batch(rng, n_actions=3, batch_size=64)
    double = _expected_loss(online, target, Batch(*(x[0] for x in batch)), 0.9, double=True)
    vanilla = _expected_loss(online, target, Batch(*(x[0] for x in batch)), 0.9, double=False)
    assert abs(double - vanilla) > 1e-3  # the check below can tell the two apart
    assert learner.update(batch) == pytest.approx(double, rel=1e-4)


def test_target_network_is_copied_every_period():
    rng = np.random.default_rng(2)
    learner = DQNLearner(4, 2, HParams(hidden_sizes=(8,), target_update=3))
    before = learner.target_weights()
    learner.update(_batch(rng, n_batches=2))
    assert learner.gradient_steps_done == 2
    for a, b in zip(before, learner.target_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # not yet copied
    learner.update(_batch(rng, n_batches=1))
    for a, b in zip(learner.weights(), learner.target_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # copied at gradient step 3


def test_repeated_updates_fit_terminal_rewards():
    rng = np.random.default_rng(3)
    learner = DQNLearner(4, 2, HParams(hidden_sizes=(32, 32), learning_rate=1e-2))
    batch = _batch(rng, n_batches=1, batch_size=32, terminal_rate=1.0)
    first = learner.update(batch)
    many = Batch(*(np.repeat(x, 200, axis=0) for x in batch))
    learner.update(many)
    assert learner.update(batch) < first / 10


def test_same_seed_same_learner_and_updates():
    hp = HParams(hidden_sizes=(16, 16))
    a, b = DQNLearner(4, 2, hp, seed=7), DQNLearner(4, 2, hp, seed=7)
    for x, y in zip(a.weights(), b.weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any((x != y).any() for x, y in zip(a.weights(), DQNLearner(4, 2, hp, seed=8).weights(),
                                               strict=True))
    batch = _batch(np.random.default_rng(4), n_batches=5)
    assert a.update(batch) == b.update(batch)
    for x, y in zip(a.weights(), b.weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_gradient_steps_match_adam_with_clipping_by_hand():
    """One step, recomputed independently: Huber gradient, global-norm clip, Adam."""
    rng = np.random.default_rng(5)
    hp = HParams(hidden_sizes=(8,), learning_rate=0.01, max_grad_norm=0.05, gamma=0.9)
    learner = DQNLearner(3, 2, hp, seed=1)
    w1, b1, w2, b2 = learner.weights()
    batch = _batch(rng, n_batches=1, batch_size=16, obs_dim=3)
    o, a, r, n, t = (x[0] for x in batch)
    h_next = np.maximum(n @ w1 + b1, 0)
    q_next = h_next @ w2 + b2
    y = r + 0.9 * (1 - t) * q_next[np.arange(16), q_next.argmax(1)]  # target == online
    h = np.maximum(o @ w1 + b1, 0)
    q = h @ w2 + b2
    err = q[np.arange(16), a] - y
    dq = np.zeros_like(q)
    dq[np.arange(16), a] = np.clip(err, -1, 1) / 16
    grads = [o.T @ ((dq @ w2.T) * (h > 0)), ((dq @ w2.T) * (h > 0)).sum(0), h.T @ dq,
             dq.sum(0)]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    assert norm > 0.05  # the clip matters in this check
    grads = [g * 0.05 / norm for g in grads]
    # Adam's first step: m = 0.1 g, v = 0.001 g^2, step size lr * sqrt(0.001) / 0.1, so
    # each weight moves by lr * g / (|g| + eps / sqrt(0.001)): about lr * sign(g).
    eps = 1e-7 / np.sqrt(1 - 0.999)
    expected = [w - 0.01 * g / (np.abs(g) + eps) for w, g in zip((w1, b1, w2, b2), grads,
                                                                    strict=True)]
    learner.update(batch)
    for got, want in zip(learner.weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=2e-6)
