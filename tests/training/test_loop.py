import numpy as np
import pytest

from cartpole.training.loop import TrialSpec, run_trial


@pytest.fixture
def hp(quick):
    """The quick settings, evaluated every 500 steps."""
    return quick.hparams(eval_every=500)


def _run(hp, seed, **kw):
    return run_trial(TrialSpec(hparams=hp, seed=seed, steps=1500, **kw))


def test_same_seed_same_result(hp):
    a, b = _run(hp, 5), _run(hp, 5)
    assert a.evaluations
    assert [e["eval_mean"] for e in a.evaluations] == [
        e["eval_mean"] for e in b.evaluations]
    assert a.episodes == b.episodes
    for wa, wb in zip(a.best_weights, b.best_weights, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_different_seeds_differ(hp):
    a, b = _run(hp, 1), _run(hp, 2)
    assert any(not np.array_equal(wa, wb)
               for wa, wb in zip(a.best_weights, b.best_weights, strict=True))


def test_budget_evaluations_and_events(hp):
    events = []

    class Collect:
        def write(self, e):
            events.append(e)

        def close(self):
            pass

    from cartpole.metrics import Recorder

    out = run_trial(TrialSpec(hparams=hp, seed=0, steps=1234), Recorder([Collect()]),
                    group="g", trial="t7")
    assert out.steps == 1234
    # evaluations every 500 steps plus a final one at the last step
    assert [e["step"] for e in out.evaluations] == [500, 1000, 1234]
    assert out.best_score == max(e["eval_mean"] for e in out.evaluations)
    kinds = {e["event"] for e in events}
    assert {"trial_start", "episode", "eval", "trial_end"} <= kinds
    assert all(e["group"] == "g" and e["trial"] == "t7" and e["ts"].endswith("Z")
               for e in events)
    episodes = [e for e in events if e["event"] == "episode"]
    assert len(episodes) == out.episodes
    assert sum(e["steps"] for e in episodes) <= out.steps


def test_episode_budget(hp):
    out = run_trial(TrialSpec(hparams=hp, seed=0, episodes=7))
    assert out.episodes == 7


def test_stop_on_solve_with_a_low_threshold_env(hp):
    import gymnasium as gym

    # CartPole with a threshold that an untrained agent reaches: training stops at the
    # first evaluation instead of spending the whole budget.
    gym.register("EasyCartPole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                 max_episode_steps=500, reward_threshold=5.0)
    out = run_trial(TrialSpec(hparams=hp, env_id="EasyCartPole-v0", seed=0, steps=5000))
    assert out.solved
    assert out.solved_at_step == 500
    assert out.steps == 500
    out = run_trial(TrialSpec(hparams=hp, env_id="EasyCartPole-v0", seed=0, steps=1000,
                              stop_on_solve=False))
    assert out.solved_at_step == 500
    assert out.steps == 1000
