"""The closing summary line says how many events the metrics engines could not deliver."""

from cartpole.cli.summary import summary_lines
from cartpole.grid.leaderboard import group_result, rank_combinations


def _trial(name, gamma, lost):
    return {"trial": name, "status": "completed", "score": 20.0, "score_std": 1.0,
            "steps": 600, "episodes": 30, "seconds": 2.0, "seed": 0, "label": f"g={gamma}",
            "solved_at_step": None, "hparams": {"gamma": gamma}, "undelivered": lost}


def test_counts_per_engine_on_the_summary_line_and_in_the_results(tmp_path):
    trials = [_trial("t000", 0.9, {"visdom": 100, "mlflow": 3}), _trial("t001", 0.99, {}),
              _trial("t002", 0.5, {"visdom": 20})]
    result = group_result("g", tmp_path, trials, tmp_path / "m.h5", "completed")
    assert result["undelivered"] == {"visdom": 120, "mlflow": 3}
    assert [t["undelivered"] for t in result["trials"]] == [
        {"visdom": 100, "mlflow": 3}, {}, {"visdom": 20}]
    assert {r["best_trial"]: r["undelivered"] for r in rank_combinations(trials)} == {
        "t000": {"visdom": 100, "mlflow": 3}, "t001": {}, "t002": {"visdom": 20}}
    line = summary_lines(result, trials)[-1]
    assert line.endswith("; 123 events undelivered (visdom 120, mlflow 3); "
                         "see events.jsonl of t000, t002")


def test_nothing_lost_nothing_said(tmp_path):
    trials = [_trial("t000", 0.9, {})]
    result = group_result("g", tmp_path, trials, tmp_path / "m.h5", "completed")
    assert "undelivered" not in summary_lines(result, trials)[-1]
    trials[0].pop("undelivered")  # a result.json from before the field existed
    assert "undelivered" not in summary_lines(result, trials)[-1]
