import h5py
import numpy as np

from cartpole.agent.h5 import read_dense_weights, save_keras_h5
from cartpole.agent.network import build_q_network


def test_saved_h5_reads_back_with_h5py_only(tmp_path):
    rng = np.random.default_rng(0)
    shapes = [(4, 8), (8,), (8, 2), (2,)]
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    path = tmp_path / "m.h5"
    save_keras_h5(path, build_q_network(4, 2, (8,), weights=weights))
    for got, want in zip(read_dense_weights(path), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    with h5py.File(path) as f:
        assert "model_weights" in f
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]
