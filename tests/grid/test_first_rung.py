"""A trial reaching the first rung of ``--prune asha`` waits for peers before Optuna's
verdict (grid/first_rung.py), on real Optuna studies with Optuna's own pruner."""

from __future__ import annotations

import threading

import optuna

from cartpole.grid import first_rung
from cartpole.grid.first_rung import ASKED_ATTR, FirstRungWait, rung_value
from cartpole.grid.study import reporter_for, trial_id
from tests.waiting import wait_until

optuna.logging.set_verbosity(optuna.logging.WARNING)
RUNG = 2_000


def _study() -> optuna.Study:
    return optuna.create_study(direction="maximize", pruner=optuna.pruners.
                               SuccessiveHalvingPruner(min_resource=RUNG, reduction_factor=4))


def _reporter(study: optuna.Study, trial: optuna.Trial, calls: list, expected=None):
    wait = FirstRungWait(RUNG, 4, calls.append, expected, "trial")
    return reporter_for(study, trial_id(trial), wait)


def test_a_trials_value_at_a_rung_is_its_first_report_at_or_past_it():
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    for step, value in ((1000, 1.0), (2500, 2.0), (4000, 3.0)):
        trial.report(value, step)
    frozen = study.trials[0]
    assert rung_value(frozen, 2000) == 2.0 and rung_value(frozen, 4000) == 3.0
    assert rung_value(frozen, 5000) is None


def test_the_first_four_wait_then_ask_optuna_best_first():
    """Optuna's pruner alone would let the first through unopposed, and the second if it
    beat the first. Waiting, the four are judged together: only the best goes on."""
    study = _study()
    trials = [study.ask() for _ in range(4)]
    calls: dict[int, list] = {i: [] for i in range(4)}
    reports = [_reporter(study, t, calls[i]) for i, t in enumerate(trials)]
    verdicts: dict[int, bool] = {}
    threads = []
    for i, value in enumerate((250.0, 300.0, 100.0, 200.0)):  # arriving in this order
        thread = threading.Thread(
            target=lambda i=i, value=value: verdicts.__setitem__(i, reports[i](RUNG, value)))
        thread.start()
        threads.append(thread)
        if i < 3:  # fewer than four have reported: it waits
            wait_until(lambda i=i: calls[i] == [True], f"trial {i} to wait")
    for thread in threads:
        thread.join(timeout=60)
    assert verdicts == {0: True, 1: False, 2: True, 3: True}
    assert all(calls[i] == [True, False] for i in range(3))
    assert all(t.user_attrs.get(ASKED_ATTR) for t in study.trials)
    # A later arrival asks at once, against all four.
    late = study.ask()
    assert _reporter(study, late, later := [])(RUNG, 280.0) is True and later == []


def test_a_trial_does_not_wait_when_no_peer_can_come():
    study = _study()
    earlier = study.ask()
    earlier.report(400.0, RUNG)
    assert not earlier.should_prune()  # the first, unopposed: there was nobody to wait for
    study.tell(earlier, 400.0)
    last = study.ask()
    calls: list = []
    assert _reporter(study, last, calls)(RUNG, 100.0) is True  # behind the only other
    assert calls == []


def test_a_sampled_search_waits_for_the_trials_it_has_yet_to_sample(monkeypatch):
    """``expected`` counts trials not created yet; a trial waits at most its patience."""
    monkeypatch.setattr(first_rung, "MIN_PATIENCE_SECONDS", 0.5)
    monkeypatch.setattr(first_rung, "PATIENCE_FACTOR", 0.0)
    study = _study()
    alone = study.ask()
    alone.set_user_attr("trial", "t000")
    calls: list = []
    assert _reporter(study, alone, calls, expected=3)(RUNG, 10.0) is False
    assert calls == [True, False]  # nobody else came in time: the best of one goes on


def test_later_rungs_do_not_wait():
    study = _study()
    trials = [study.ask() for _ in range(2)]
    calls: list = []
    report = _reporter(study, trials[0], calls)
    trials[1].report(50.0, RUNG)  # the other is past the first rung, still running
    assert report(RUNG - 1000, 10.0) is False
    assert report(RUNG, 60.0) is False and calls == []  # two of two reported: no wait
    assert report(4 * RUNG, 70.0) is False and calls == []  # the second rung, alone


def test_a_stop_request_ends_the_wait_undecided(monkeypatch):
    """Ctrl-C or SIGTERM reaches a trial waiting at the first rung at once, not after its
    patience: it goes on without a verdict (to stop at its next step, keeping its best
    model, and rerun whole on --resume)."""
    from cartpole.training.stopping import request_stop, stop_requests

    monkeypatch.setattr(first_rung, "MIN_PATIENCE_SECONDS", 3600.0)
    study = _study()
    waiting, _ = study.ask(), study.ask()  # the second never reports
    calls: list = []
    report = _reporter(study, waiting, calls)
    decided: list[bool] = []

    def train() -> None:
        with stop_requests():  # as the training loop does around its steps
            decided.append(report(RUNG, 1.0))

    thread = threading.Thread(target=train)
    thread.start()
    try:
        wait_until(lambda: calls == [True], "the trial to wait")
        request_stop()
        wait_until(lambda: decided, "the wait to end on the stop request")
    finally:
        request_stop()
        thread.join(timeout=60)
    assert decided == [False] and calls == [True, False]
    assert ASKED_ATTR not in study.trials[0].user_attrs  # no verdict was asked for


def test_a_solved_trials_last_report_waits_for_nothing():
    """A trial that solved before the first rung reports its score at the end of its
    budget only to count at the rungs it skipped: no wait, and no verdict used."""
    study = _study()
    solved, _ = study.ask(), study.ask()  # the second is still on its way
    calls: list = []
    report = _reporter(study, solved, calls)
    assert report(1_000, 500.0) is False  # solved before the first rung
    assert report(50_000, 500.0, decide=False) is False
    assert calls == []
    frozen = study.trials[0]
    assert frozen.intermediate_values == {1_000: 500.0, 50_000: 500.0}
    assert frozen.system_attrs  # Optuna recorded its value at the rungs it skipped
