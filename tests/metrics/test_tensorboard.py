import pytest

from cartpole.metrics import Recorder
from cartpole.metrics.engines import EngineContext, build_sinks
from cartpole.training.loop import TrialSpec, run_trial
from tests.metrics import remote_examples as ex

pytest.importorskip("tensorboard")


def test_scalars_per_trial_read_back_with_tensorboard(tmp_path, quick):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sinks = build_sinks(("tensorboard",), {"tensorboard": {"logdir": str(tmp_path)}},
                        EngineContext("g", "t003"))
    hp = quick.hparams()
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


def test_a_pruned_trial_ends_with_its_flags_as_scalars(tmp_path, quick):
    """The pruner's verdict (here a stand-in that stops at the second evaluation) ends
    the trial early, and trial_end/pruned says so, as 1."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sinks = build_sinks(("tensorboard",), {"tensorboard": {"logdir": str(tmp_path)}},
                        EngineContext("g", "t001"))
    hp = quick.hparams(eval_every=200)
    heard = []

    def prune(step: int, value: float) -> bool:
        heard.append(step)
        return step >= 400

    out = run_trial(TrialSpec(hparams=hp, steps=2000, stop_on_solve=False), Recorder(sinks),
                    "g", "t001", prune=prune)
    Recorder(sinks).close()
    assert out.pruned and out.steps == 400 and heard == [200, 400]
    acc = EventAccumulator(str(tmp_path / "g" / "t001"))
    acc.Reload()
    [pruned] = acc.Scalars("trial_end/pruned")
    assert (pruned.step, pruned.value) == (400, 1.0)
    assert acc.Scalars("trial_end/interrupted")[0].value == 0.0


def test_remote_run_and_router_demo_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sinks = build_sinks(("tensorboard",), {"tensorboard": {"logdir": str(tmp_path)}},
                        EngineContext("run-x", "agent"))
    recorder = Recorder(sinks)
    run, demo = ex.a_run(), ex.a_router_demo()
    for event in run + demo:
        recorder.write(event)
    recorder.close()
    acc = EventAccumulator(str(tmp_path / "run-x" / "agent"))
    acc.Reload()
    episodes = [e for e in run if e["event"] == "run_episode"]
    assert [(s.step, s.value) for s in acc.Scalars("run_episode/score")] == \
        [(e["episode"], e["score"]) for e in episodes]
    assert [(s.step, round(s.value, 4)) for s in acc.Scalars("route/share")] == \
        [(e["request"], e["share"]) for e in demo]
    end = run[-1]
    numbers = {k for k, v in end.items() if isinstance(v, int | float)
               and not isinstance(v, bool)} - {"ts"}
    assert {t.split("/", 1)[1] for t in acc.Tags()["scalars"]
            if t.startswith("run_end/")} == numbers
    for key in numbers:
        [scalar] = acc.Scalars(f"run_end/{key}")
        assert scalar.step == end["episodes"]
        assert scalar.value == pytest.approx(end[key], rel=1e-6)


@pytest.mark.slow
def test_a_process_that_does_not_train_never_imports_tensorflow(tmp_path):
    """`cartpole run` with the tensorboard engine must not pay for TensorFlow."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cartpole.metrics.engines import EngineContext, build_sinks\n"
        "from cartpole.metrics import Recorder\n"
        "from tests.metrics import remote_examples as ex\n"
        f"sinks = build_sinks(('tensorboard',), {{'tensorboard': {{'logdir': {str(tmp_path)!r}}}}},"
        " EngineContext('run-x', 'agent'))\n"
        "recorder = Recorder(sinks)\n"
        "for event in ex.a_run():\n"
        "    recorder.write(event)\n"
        "recorder.close()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"
    assert list((tmp_path / "run-x" / "agent").glob("events.out.tfevents.*"))
