"""The served policy: the Keras model's own numbers, with numpy and h5py alone."""

import subprocess
import sys

import numpy as np
import pytest

from cartpole.serving.errors import BadRequest, ModelNotReady, TooLarge
from cartpole.serving.policy import ServedPolicy, softmax, validate_observations


def test_q_values_match_keras(model_file):
    import keras

    obs = np.random.default_rng(0).normal(0, 1, (64, 4)).astype(np.float32)
    expected = keras.models.load_model(model_file, compile=False).predict(obs, verbose=0)
    policy = ServedPolicy.load(model_file)
    np.testing.assert_allclose(policy.q_values(obs), expected, atol=1e-5)
    np.testing.assert_array_equal(policy.act(obs), expected.argmax(axis=1))
    assert policy.metadata["score"] == 500.0 and len(policy.digest) == 12


def test_one_row_or_many(model_file):
    policy = ServedPolicy.load(model_file)
    assert policy.q_values([0.1, 0.2, 0.3, 0.4]).shape == (1, 2)
    assert policy.q_values([[0.1, 0.2, 0.3, 0.4]] * 3).shape == (3, 2)


@pytest.mark.parametrize(("data", "error", "message"), [
    ([], BadRequest, "no observations"),
    (None, BadRequest, "no observations"),
    ([[1, 2, 3]], BadRequest, r"shape \(n, 4\), got \(1, 3\)"),
    ([[1, 2], [3, 4, 5, 6]], BadRequest, "must be numbers"),
    ([["a", "b", "c", "d"]], BadRequest, "must be numbers"),
    ([[1, 2, 3, float("nan")]], BadRequest, "finite"),
    ([[1, 2, 3, float("inf")]], BadRequest, "finite"),
    ([[[1, 2, 3, 4]]], BadRequest, "shape"),
    ([[0.0] * 4] * 11, TooLarge, "at most 10 observations"),
])
def test_bad_observations_are_named(data, error, message):
    with pytest.raises(error, match=message):
        validate_observations(data, 4, max_rows=10)


def test_http_statuses():
    assert BadRequest.status == 400 and TooLarge.status == 413 and ModelNotReady.status == 503


def test_missing_model_is_not_ready(tmp_path):
    with pytest.raises(ModelNotReady, match="cannot load"):
        ServedPolicy.load(tmp_path / "nope.h5")


def test_sampling_follows_the_softmax(model_file):
    policy = ServedPolicy.load(model_file)
    obs = np.tile([[0.3, -0.2, 0.1, 0.5]], (10_000, 1))
    p = policy.probabilities(obs[:1], temperature=2.0)[0]
    assert 0.05 < p[0] < 0.95  # a real mix, or the check below would be trivial
    actions = policy.act(obs, "sample", 2.0, np.random.default_rng(1))
    assert abs(np.bincount(actions, minlength=2)[0] / len(obs) - p[0]) < 0.02
    again = policy.act(obs[:50], "sample", 2.0, np.random.default_rng(1))
    np.testing.assert_array_equal(again, actions[:50])  # seeded: deterministic
    cold = policy.act(obs[:500], "sample", 1e-4, np.random.default_rng(2))
    assert (cold == policy.act(obs[:500])).all()  # temperature -> 0 is greedy


def test_softmax_is_stable():
    p = softmax(np.array([[1000.0, 1000.0], [-1e4, 0.0]]), 1.0)
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.0, 1.0]])
    with pytest.raises(BadRequest, match="temperature"):
        softmax(np.zeros((1, 2)), 0.0)


@pytest.mark.slow
def test_serving_imports_no_tensorflow():
    code = ("import sys, cartpole.serving.seldon, cartpole.serving.policy, "
            "cartpole.serving.bandits\n"
            "print([m for m in ('tensorflow', 'keras', 'gymnasium', 'click') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
