import numpy as np
import pytest

from cartpole.agent.replay import ReplayBuffer


def test_ring_buffer_overwrites_oldest():
    buf = ReplayBuffer(capacity=3, obs_dim=2)
    for i in range(5):
        buf.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), i == 4)
    assert buf.size == 3
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0]
    assert buf.terminated.sum() == 1


def test_sample_shapes_and_consistency():
    buf = ReplayBuffer(capacity=100, obs_dim=4)
    for i in range(10):
        buf.add(np.full(4, i), i % 2, float(i), np.full(4, i + 1), False)
    batch = buf.sample(np.random.default_rng(0), n_batches=5, batch_size=8)
    assert batch.obs.shape == (5, 8, 4)
    assert batch.actions.shape == batch.rewards.shape == (5, 8)
    # every sampled row is one stored transition, never a mix of two
    np.testing.assert_array_equal(batch.obs[..., 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_obs[..., 0], batch.rewards + 1)
    assert batch.obs.dtype == np.float32
    assert batch.actions.dtype == np.int32
    assert batch.rewards.max() <= 9  # never samples unfilled slots


def test_empty_buffer_cannot_sample():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, 1).sample(np.random.default_rng(0), 1, 1)
