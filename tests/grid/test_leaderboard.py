import csv
import json

from cartpole.grid.leaderboard import best_trial, rank_combinations, write_leaderboard


def _t(trial, gamma, score, status="completed", seed=0):
    return {"trial": trial, "status": status, "score": score, "seed": seed, "steps": 100,
            "seconds": 1.0, "hparams": {"gamma": gamma, "hidden_sizes": [8]}}


def test_ranks_by_mean_over_seeds_not_by_the_luckiest_seed():
    trials = [_t("t0", 0.9, 500, seed=0), _t("t1", 0.9, 100, seed=1),   # mean 300
              _t("t2", 0.99, 400, seed=0), _t("t3", 0.99, 380, seed=1),  # mean 390
              _t("t4", 0.5, None, status="failed")]
    rows = rank_combinations(trials)
    assert [r["hparams"]["gamma"] for r in rows] == [0.99, 0.9, 0.5]
    assert rows[0]["score_mean"] == 390 and rows[0]["score_std"] == 10
    assert rows[0]["best_trial"] == "t2"
    assert rows[2]["status"] == "failed" and rows[2]["score_mean"] is None
    assert best_trial(trials)["trial"] == "t2"


def test_partial_combinations_rank_on_what_completed(tmp_path):
    trials = [_t("t0", 0.9, 200), _t("t1", 0.9, None, status="failed", seed=1)]
    rows = write_leaderboard(tmp_path, trials)
    assert rows[0]["status"] == "partial" and rows[0]["seeds"] == 1
    assert json.loads((tmp_path / "leaderboard.json").read_text()) == rows
    with (tmp_path / "leaderboard.csv").open() as f:
        row = next(csv.DictReader(f))
    assert row["gamma"] == "0.9" and row["hidden_sizes"] == "8" and row["rank"] == "1"


def test_no_completed_trial_means_no_best():
    assert best_trial([_t("t0", 0.9, None, status="failed")]) is None


def test_a_combination_with_no_score_says_what_became_of_it_not_failed():
    trials = [_t("t0", 0.9, 200), _t("t1", 0.95, None, status="interrupted"),
              _t("t2", 0.97, None, status="pending"), _t("t3", 0.99, None, status="running"),
              _t("t4", 0.5, None, status="failed"),
              # two seeds each: the furthest one speaks for the combination
              _t("t5", 0.6, None, status="interrupted"), _t("t6", 0.6, None, "pending", 1),
              _t("t7", 0.7, None, status="failed"), _t("t8", 0.7, None, "pending", 1)]
    rows = rank_combinations(trials)
    assert {r["trials"][0]: r["status"] for r in rows} == {
        "t0": "completed", "t1": "interrupted", "t2": "pending", "t3": "running",
        "t4": "failed", "t5": "interrupted", "t7": "failed"}
    assert rows[0]["trials"] == ["t0"]  # the scored one still ranks first
