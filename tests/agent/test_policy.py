import numpy as np

from cartpole.agent.policy import NumpyPolicy


def test_act_single_and_batch():
    # Q = relu(x) * [-1, 1]: action 1 wins for x > 0; for x <= 0 both are 0 and argmax is 0.
    policy = NumpyPolicy([np.array([[1.0]]), np.zeros(1), np.array([[-1.0, 1.0]]), np.zeros(2)])
    assert policy.act(np.array([2.0])) == 1
    np.testing.assert_array_equal(policy.act(np.array([[2.0], [-3.0]])), [1, 0])
    assert policy.obs_dim == 1
    assert policy.n_actions == 2
