"""result.json as a typed record: written key for key as before, read back whatever its age."""

import json

from cartpole.hparams import HParams
from cartpole.training.loop import TrialOutcome, TrialSpec
from cartpole.training.result import TrialResult, read_result
from cartpole.training.trial_dir import result_record

KEYS = ["trial", "status", "score", "score_std", "best_step", "confirmed_score", "steps",
        "episodes", "seconds", "solved", "solved_at_step", "solved_at_seconds", "seed",
        "hparams", "dir", "model", "evaluations"]


def _outcome(**kw):
    base = {"best_score": 480.5, "best_std": 12.25, "best_step": 9000, "confirmed_score": 490.0,
            "best_weights": None, "steps": 10000, "episodes": 120, "seconds": 12.34567,
            "solved_at_step": 9000, "solved_at_seconds": 11.11111, "reward_threshold": 475.0,
            "evaluations": [{"step": 9000, "eval_mean": 480.5}]}
    return TrialOutcome(**{**base, **kw})


def test_the_trial_writes_the_same_keys_in_the_same_order(tmp_path):
    spec = TrialSpec(hparams=HParams(gamma=0.9), seed=3)
    result = result_record(spec, _outcome(), "t001", tmp_path / "t001")
    data = result.to_dict()
    assert list(data) == [*KEYS, "undelivered", "phases"]  # then the worker's measures (extra)
    assert data["status"] == "completed" and data["seconds"] == 12.346
    assert data["solved"] is True and data["solved_at_seconds"] == 11.111
    assert data["model"] == str(tmp_path / "t001" / "model.h5")
    assert data["hparams"] == HParams(gamma=0.9).to_dict()
    interrupted = result_record(spec, _outcome(interrupted=True, solved_at_step=None,
                                               solved_at_seconds=None), "t001", tmp_path)
    assert interrupted.status == "interrupted" and interrupted.solved is False


def test_a_worker_file_round_trips_exactly(tmp_path):
    data = {**{k: None for k in KEYS}, "trial": "t000", "status": "completed",
            "hparams": {"gamma": 0.99}, "evaluations": [], "kept": "previous",
            "rerun_score": 12.0, "undelivered": {"visdom": 3}, "peak_rss_mb": 512.5,
            "attempt": "a1b2c3d4"}
    result = TrialResult.from_dict(data)
    assert result.attempt == "a1b2c3d4" and result.undelivered == {"visdom": 3}
    assert list(result.to_dict().items()) == list(data.items())
    result.write(tmp_path)
    assert json.loads((tmp_path / "result.json").read_text()) == data
    assert read_result(tmp_path / "result.json") == result


def test_kept_and_rerun_score_only_when_an_earlier_model_is_kept():
    data = TrialResult("t000", "completed").to_dict()
    assert "kept" not in data and "rerun_score" not in data
    assert list(data)[-3:] == ["evaluations", "undelivered", "phases"]


def test_an_older_file_keeps_its_keys_and_unknown_ones():
    old = {"trial": "t000", "status": "completed", "score": 200.0, "steps": 5000,
           "hparams": {}, "retired_key": [1, 2]}
    result = TrialResult.from_dict(old)
    assert result.score == 200.0 and result.extra == {"retired_key": [1, 2]}
    assert result.to_dict() == old  # nothing it lacked is added
    assert result.attempt is None


def test_unreadable_results_read_as_none(tmp_path):
    assert read_result(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert read_result(tmp_path / "bad.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_result(tmp_path / "list.json") is None
