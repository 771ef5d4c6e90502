import numpy as np

from cartpole.agent.network import build_q_network
from cartpole.agent.policy import NumpyPolicy


def test_numpy_forward_matches_keras():
    model = build_q_network(4, 2, (16, 8))
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    policy = NumpyPolicy([v.numpy() for v in model.trainable_variables])
    np.testing.assert_allclose(policy.q_values(obs), model(obs).numpy(), rtol=1e-5, atol=1e-5)
    assert policy.obs_dim == 4
    assert policy.n_actions == 2


def test_act_single_and_batch():
    # Q = relu(x) * [-1, 1]: action 1 wins for x > 0; for x <= 0 both are 0 and argmax is 0.
    policy = NumpyPolicy([np.array([[1.0]]), np.zeros(1), np.array([[-1.0, 1.0]]), np.zeros(2)])
    assert policy.act(np.array([2.0])) == 1
    np.testing.assert_array_equal(policy.act(np.array([[2.0], [-3.0]])), [1, 0])
