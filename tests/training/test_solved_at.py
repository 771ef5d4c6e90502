""""Solved at step N" names the evaluation whose confirmation held."""

import numpy as np

from cartpole.training.evaluate import EvalResult
from cartpole.training.selection import Selector


class SeedReturns:
    """A fake evaluator: each episode's return is the seed it was played with."""

    def run(self, act, seeds):
        return EvalResult(tuple(float(s) for s in seeds))


def _act(obs):
    return np.zeros(len(obs), dtype=int)


def _weights():
    return [np.zeros(1, np.float32)]


def _selector(confirm_seeds):
    return Selector(SeedReturns(), [10, 10], confirm_seeds, threshold=6.0)


def test_an_evaluation_whose_confirmation_failed_is_not_the_solving_one():
    sel = _selector([0, 0])  # confirmation mean (10+10+0+0)/4 = 5: fails
    sel.evaluate(100, _act, _weights, confirm=True)
    assert sel.solved_at is None and not sel.confirmed
    sel.evaluate(200, _act, _weights, confirm=True)  # reaches again, fails again
    assert sel.solved_at is None
    sel.confirm_seeds = [8, 8]  # mean 9: holds
    sel.evaluate(300, _act, _weights, confirm=True)
    assert sel.confirmed
    assert sel.solved_at[0] == 300
    sel.evaluate(400, _act, _weights, confirm=True)
    assert sel.solved_at[0] == 300  # the first confirmed evaluation stays the one


def test_never_confirmed_means_never_solved():
    sel = _selector([0, 0])
    for step in (100, 200, 300):
        sel.evaluate(step, _act, _weights, confirm=True)
    assert sel.solved_at is None


def test_without_confirmation_the_first_evaluation_reaching_the_threshold_counts():
    # --no-stop-on-solve: the trial evaluates with confirm=False
    sel = _selector([0, 0])
    sel.seeds = [1, 1]
    sel.evaluate(100, _act, _weights, confirm=False)
    assert sel.solved_at is None
    sel.seeds = [10, 10]
    rec = sel.evaluate(200, _act, _weights, confirm=False)
    assert "confirm_mean" not in rec
    sel.evaluate(300, _act, _weights, confirm=False)
    assert sel.solved_at[0] == 200
    assert not sel.confirmed


def test_confirm_episodes_0_counts_the_first_evaluation_reaching_the_threshold():
    sel = _selector([])  # --confirm-episodes 0
    rec = sel.evaluate(100, _act, _weights, confirm=True)
    assert "confirm_mean" not in rec
    assert sel.solved_at[0] == 100
