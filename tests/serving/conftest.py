import json

import numpy as np
import pytest

from cartpole.agent.h5 import save_h5


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """A Keras .h5 of a 4-16-2 network with random weights, and its metadata."""
    rng = np.random.default_rng(7)
    shapes = [(4, 16), (16,), (16, 2), (2,)]
    weights = [rng.normal(0, 0.5, s).astype(np.float32) for s in shapes]
    folder = tmp_path_factory.mktemp("model")
    path = folder / "cartpole-rl-remote.h5"
    save_h5(path, weights)
    (folder / "cartpole-rl-remote.json").write_text(json.dumps(
        {"group": "g", "trial": "t000", "score": 500.0, "env_id": "CartPole-v1"}))
    return path
