import json

import numpy as np
import pytest

from cartpole.agent.h5 import save_h5


def _save(folder, weights, score):
    path = folder / "cartpole-rl-remote.h5"
    save_h5(path, weights)
    (folder / "cartpole-rl-remote.json").write_text(json.dumps(
        {"group": "g", "trial": "t000", "score": score, "env_id": "CartPole-v1"}))
    return path


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """A Keras .h5 of a 4-16-2 network with random weights, and its metadata."""
    rng = np.random.default_rng(7)
    shapes = [(4, 16), (16,), (16, 2), (2,)]
    weights = [rng.normal(0, 0.5, s).astype(np.float32) for s in shapes]
    return _save(tmp_path_factory.mktemp("model"), weights, 1.0)


@pytest.fixture(scope="session")
def solver_file(tmp_path_factory):
    """A 4-16-2 network that balances CartPole-v1 for 500 steps from every seed tried:
    the linear rule "push right when 0.1 x + 0.5 x' + theta + 0.5 theta' > 0", written
    as two ReLU units (w.s and -w.s) feeding Q(right) and Q(left)."""
    w = np.array([0.1, 0.5, 1.0, 0.5], dtype=np.float32)
    k1 = np.zeros((4, 16), np.float32)
    k1[:, 0], k1[:, 1] = w, -w
    k2 = np.zeros((16, 2), np.float32)
    k2[0, 1], k2[1, 0] = 1.0, 1.0
    weights = [k1, np.zeros(16, np.float32), k2, np.zeros(2, np.float32)]
    return _save(tmp_path_factory.mktemp("solver"), weights, 500.0)
