"""The Seldon MODEL class as the wrapper calls it: construct, load, predict, feedback."""

import numpy as np
import pytest

from cartpole.serving.errors import BadRequest, ModelNotReady
from cartpole.serving.policy import ServedPolicy
from cartpole.serving.seldon import CartpoleModel


def test_nothing_loads_at_construction(tmp_path):
    model = CartpoleModel(model_file=str(tmp_path / "missing.h5"))  # no error yet
    with pytest.raises(ModelNotReady):
        model.predict([[0.0] * 4], None)
    with pytest.raises(ModelNotReady):
        model.load()


def test_predict_feedback_metrics_tags(model_file):
    model = CartpoleModel(model_file=str(model_file))
    model.load()
    obs = np.random.default_rng(3).normal(0, 1, (10, 4))
    actions = model.predict(obs, ["x", "x_dot", "theta", "theta_dot"])
    assert actions.shape == (10, 1)
    np.testing.assert_array_equal(actions[:, 0], ServedPolicy.load(model_file).act(obs))
    assert model.send_feedback(obs, None, 1.0, None) == []
    metrics = {m["key"]: m["value"] for m in model.metrics()}
    assert metrics["cartpole_action_0_total"] + metrics["cartpole_action_1_total"] == 10
    assert metrics["cartpole_feedback_total"] == 1 and "cartpole_q_mean" in metrics
    tags = model.tags()
    assert tags["model_version"].startswith("g/t000@") and tags["score"] == 500.0
    assert model.health_status()["status"] == "ok"
    with pytest.raises(BadRequest, match="finite"):
        model.predict([[0, 0, 0, float("nan")]], None)


def test_sampling_mode_with_seldon_string_parameters(model_file):
    model = CartpoleModel(model_file=str(model_file), mode="sample", temperature="5.0",
                          seed="4")
    model.load()
    actions = model.predict(np.zeros((2000, 4)), None)[:, 0]
    assert 0 < actions.mean() < 1  # both actions drawn


def test_no_flask_no_error_handler(model_file):
    """In the training environment (no Flask) the wrapper sees no handler to register."""
    import importlib.util

    model = CartpoleModel(model_file=str(model_file))
    assert hasattr(model, "model_error_handler") == (importlib.util.find_spec("flask")
                                                      is not None)
