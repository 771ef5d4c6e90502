import numpy as np

from cartpole.envs.make import make_env
from cartpole.training.evaluate import evaluate


def _constant(action):
    return lambda obs: np.full(len(obs), action)


def test_batched_evaluation_matches_one_by_one():
    seeds = [11, 12, 13, 14, 15]
    envs = [make_env() for _ in range(2)]  # fewer envs than episodes: played in chunks
    result = evaluate(envs, _constant(1), seeds)
    single = []
    env = make_env()
    for s in seeds:
        env.reset(seed=s)
        total, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = env.step(1)
            total += r
            done = term or trunc
        single.append(total)
    assert list(result.returns) == single
    assert result.mean == np.mean(single)


def test_evaluation_is_seeded():
    envs = [make_env() for _ in range(3)]

    def lean(obs):
        return (obs[:, 2] > 0).astype(int)  # push toward the pole's lean

    a = evaluate(envs, lean, [1, 2, 3])
    b = evaluate(envs, lean, [1, 2, 3])
    assert a.returns == b.returns
    assert a.mean > evaluate(envs, _constant(0), [1, 2, 3]).mean
