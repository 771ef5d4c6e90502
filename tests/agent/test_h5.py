import json

import h5py
import numpy as np
import pytest

from cartpole.agent.h5 import model_config, read_dense_weights, save_h5
from cartpole.agent.policy import NumpyPolicy


def _weights(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(np.float32) for s in shapes]


def test_saved_h5_reads_back_with_h5py_only(tmp_path):
    weights = _weights([(4, 8), (8,), (8, 2), (2,)])
    path = tmp_path / "m.h5"
    save_h5(path, weights)
    for got, want in zip(read_dense_weights(path), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    with h5py.File(path) as f:
        config = json.loads(f.attrs["model_config"])
        assert [n.decode() for n in f["model_weights"].attrs["layer_names"]] == [
            "hidden_0", "q_values"]
    assert config == model_config(4, [8, 2])
    assert [layer["config"].get("activation") for layer in config["config"]["layers"]] == [
        None, "relu", "linear"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]


def test_refuses_weights_that_are_not_kernel_bias_pairs(tmp_path):
    with pytest.raises(ValueError, match="alternate kernel, bias"):
        save_h5(tmp_path / "m.h5", _weights([(4, 8), (8,), (8, 2)]))


@pytest.mark.slow
def test_keras_loads_the_file_and_predicts_what_we_do(tmp_path):
    """The .h5 is a real Keras model file: Keras 3 loads it, with the same outputs."""
    keras = pytest.importorskip("keras")
    weights = _weights([(4, 64), (64,), (64, 64), (64,), (64, 2), (2,)], seed=3)
    path = tmp_path / "cartpole-rl-remote.h5"
    save_h5(path, weights)
    model = keras.models.load_model(path, compile=False)
    assert [layer.name for layer in model.layers] == ["hidden_0", "hidden_1", "q_values"]
    obs = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(obs)), NumpyPolicy(weights).q_values(obs),
                               rtol=1e-5, atol=1e-4)
