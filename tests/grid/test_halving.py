"""The ``--prune asha`` pruner (grid/halving.py) on real Optuna studies: its rule is
Optuna's successive halving, and its first rung waits for peers."""

from __future__ import annotations

import random
import threading

import optuna
import pytest

from cartpole.grid import halving
from cartpole.grid.halving import Halving, promotable, rung_value
from tests.waiting import wait_until

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_promotable_keeps_the_top_fraction_or_the_best_of_a_few():
    assert promotable(5, [5, 4, 3], 4) and not promotable(4, [5, 4, 3], 4)
    values = [8, 7, 6, 5, 4, 3, 2, 1]  # 8 values, reduction 4: the top 2 go on
    assert [v for v in values if promotable(v, values, 4)] == [8, 7]
    assert promotable(7, [7, 7, 1, 1], 4)  # ties with the best go on


def test_a_trials_value_at_a_rung_is_its_first_report_at_or_past_it():
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    for step, value in ((1000, 1.0), (2500, 2.0), (4000, 3.0)):
        trial.report(value, step)
    frozen = study.trials[0]
    assert rung_value(frozen, 2000) == 2.0 and rung_value(frozen, 4000) == 3.0
    assert rung_value(frozen, 5000) is None


@pytest.mark.parametrize("interleaved", [False, True])
def test_without_waiting_it_decides_as_optunas_successive_halving(interleaved):
    """The same reports, to a study with Optuna's pruner and to one with ours: the same
    trials stop at the same steps."""
    rng = random.Random(7)
    curves = [[rng.uniform(0, 500) for _ in range(12)] for _ in range(24)]
    ours = _stops(Halving(2_000, 3), curves, interleaved)
    theirs = _stops(optuna.pruners.SuccessiveHalvingPruner(
        min_resource=2_000, reduction_factor=3), curves, interleaved)
    assert ours == theirs
    assert 0 < sum(s is not None for s in ours) < len(curves)  # some stopped, not all


def _stops(pruner, curves, interleaved: bool) -> list[int | None]:
    """Each trial's step when the pruner stopped it (None: it ran its curve), reporting
    every 1,000 steps: trial by trial, or all trials a step at a time (batches of 4)."""
    study = optuna.create_study(direction="maximize", pruner=pruner)
    stopped: list[int | None] = [None] * len(curves)
    batches = [range(i, min(i + 4, len(curves))) for i in range(0, len(curves), 4)] \
        if interleaved else [[i] for i in range(len(curves))]
    for batch in batches:
        trials = {i: study.ask() for i in batch}
        for k in range(len(curves[0])):
            for i, trial in trials.items():
                if stopped[i] is not None:
                    continue
                step = (k + 1) * 1000
                trial.report(max(curves[i][:k + 1]), step)
                if trial.should_prune():
                    stopped[i] = step
        for i, trial in trials.items():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED) if stopped[i] \
                else study.tell(trial, max(curves[i]))
    return stopped


def test_the_first_rung_waits_for_peers_then_compares_them_all():
    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(2_000, 4, on_wait=calls.append))
    first, *others = [study.ask() for _ in range(4)]
    decided: list[bool] = []
    first.report(300.0, 2_000)  # the first to get there, and the best there
    waiter = threading.Thread(target=lambda: decided.append(first.should_prune()))
    waiter.start()
    try:
        wait_until(lambda: calls == [True], "the first trial to say it waits")
        assert not decided  # Optuna's pruner would have let it through by now
        for value, trial in zip((100.0, 200.0, 250.0), others, strict=True):
            trial.report(value, 2_000)
        wait_until(lambda: decided, "the first trial's verdict once four reported")
    finally:
        waiter.join(timeout=60)
    assert calls == [True, False] and decided == [False]  # the best of four goes on
    # The others decide at once (four have reported), each against all four.
    assert [t.should_prune() for t in others] == [True, True, True]
    assert calls == [True, False]


def test_a_trial_does_not_wait_when_no_peer_can_come():
    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(2_000, 4, on_wait=calls.append))
    earlier = study.ask()
    earlier.report(400.0, 2_000)
    study.tell(earlier, 400.0)
    last = study.ask()
    last.report(100.0, 2_000)
    assert last.should_prune()  # behind the only other trial, with nobody left to come
    assert calls == []


def test_a_sampled_search_waits_for_the_trials_it_has_yet_to_sample(monkeypatch):
    """``expected`` counts trials not created yet; a trial waits at most its patience."""
    monkeypatch.setattr(halving, "MIN_PATIENCE_SECONDS", 0.5)
    monkeypatch.setattr(halving, "PATIENCE_FACTOR", 0.0)
    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(2_000, 4, expected=3, on_wait=calls.append,
                                               trial_key="trial"))
    alone = study.ask()
    alone.set_user_attr("trial", "t000")
    alone.report(10.0, 2_000)
    assert not alone.should_prune()  # nobody else came in time: the best of one goes on
    assert calls == [True, False]


def test_later_rungs_do_not_wait():
    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(1_000, 2, on_wait=calls.append))
    trials = [study.ask() for _ in range(2)]
    for trial in trials:
        trial.report(50.0, 1_000)
    assert [t.should_prune() for t in trials] == [False, False]  # two of two: no wait
    trials[0].report(60.0, 2_000)  # the second rung, with trials[1] still on its way
    assert not trials[0].should_prune()
    assert calls == []


def test_a_stop_request_ends_the_wait(monkeypatch):
    """Ctrl-C or SIGTERM reaches a trial waiting at the first rung at once, not after its
    patience: it goes on (to stop at its next step, keeping its best model)."""
    from cartpole.training.stopping import request_stop, stop_requests

    monkeypatch.setattr(halving, "MIN_PATIENCE_SECONDS", 3600.0)
    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(2_000, 4, on_wait=calls.append))
    waiting, _ = study.ask(), study.ask()  # the second never reports
    waiting.report(1.0, 2_000)
    decided: list[bool] = []

    def train() -> None:
        with stop_requests():  # as the training loop does around its steps
            decided.append(waiting.should_prune())

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


def test_a_solved_trials_last_report_asks_nothing():
    """A trial that solved reports its score at the end of its budget only to count at
    the later rungs: no verdict, so no wait at the first rung either."""
    from cartpole.grid.study import reporter_for, trial_id

    calls: list[bool] = []
    study = optuna.create_study(direction="maximize",
                                pruner=Halving(2_000, 4, on_wait=calls.append))
    solved, _ = study.ask(), study.ask()  # the second is still on its way
    report = reporter_for(study, trial_id(solved))
    assert report(1_000, 500.0) is False  # solved before the first rung
    assert report(50_000, 500.0, decide=False) is False
    assert calls == []
    assert study.trials[0].intermediate_values == {1_000: 500.0, 50_000: 500.0}
