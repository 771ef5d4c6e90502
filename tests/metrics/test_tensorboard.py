import pytest

from cartpole.config import HParams
from cartpole.metrics import Recorder
from cartpole.metrics.engines import EngineContext, build_sinks
from cartpole.train import TrialSpec, run_trial

pytest.importorskip("tensorboard")


def test_scalars_per_trial_read_back_with_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sinks = build_sinks(("tensorboard",), {"tensorboard": {"logdir": str(tmp_path)}},
                        EngineContext("g", "t003"))
    hp = HParams(hidden_sizes=(8,), learning_starts=100, train_freq=100, gradient_steps=5,
                 eval_every=300, eval_episodes=2)
    out = run_trial(TrialSpec(hparams=hp, steps=700), Recorder(sinks), "g", "t003")
    Recorder(sinks).close()
    acc = EventAccumulator(str(tmp_path / "g" / "t003"))
    acc.Reload()
    scores = acc.Scalars("episode/score")
    assert len(scores) == out.episodes
    evals = acc.Scalars("eval/eval_mean")
    assert [e.step for e in evals] == [e["step"] for e in out.evaluations]
    assert [round(e.value, 3) for e in evals] == [round(e["eval_mean"], 3)
                                                  for e in out.evaluations]
