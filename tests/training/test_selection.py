import numpy as np

from cartpole.training.evaluate import EvalResult
from cartpole.training.selection import Selector


class SeedReturns:
    """A fake evaluator: each episode's return is the seed it was played with."""

    def run(self, act, seeds):
        return EvalResult(tuple(float(s) for s in seeds))


def _act(obs):
    return np.zeros(len(obs), dtype=int)


def _weights(tag):
    return lambda: [np.full(1, tag, np.float32)]


def test_keeps_the_best_evaluated_weights():
    sel = Selector(SeedReturns(), [3, 5], [], threshold=None)
    sel.evaluate(100, _act, _weights(1), confirm=True)
    assert sel.best.score == 4.0
    sel.seeds = [1, 1]
    sel.evaluate(200, _act, _weights(2), confirm=True)
    assert sel.best.step == 100
    assert sel.best.weights[0][0] == 1
    sel.seeds = [9, 9]
    rec = sel.evaluate(300, _act, _weights(3), confirm=True)
    assert sel.best.step == 300
    assert rec["best"] == 9.0
    assert sel.solved_at is None
    assert not sel.confirmed


def test_threshold_needs_confirmation_before_stopping():
    sel = Selector(SeedReturns(), [10] * 4, [0] * 4, threshold=6.0)
    rec = sel.evaluate(100, _act, _weights(1), confirm=True)
    assert sel.solved_at is None  # reached, but its confirmation failed: not solved yet
    assert rec["confirm_mean"] == 5.0
    assert not sel.confirmed
    assert sel.best.confirmed_score is None

    sel.seeds, sel.confirm_seeds = [7] * 4, [8] * 4
    rec = sel.evaluate(200, _act, _weights(2), confirm=True)
    # a confirmed snapshot is kept even though an earlier one scored higher
    assert sel.confirmed
    assert sel.best.step == 200
    assert sel.best.confirmed_score == 7.5
    assert sel.solved_at[0] == 200  # the evaluation whose confirmation held


def test_no_confirmation_when_not_asked():
    sel = Selector(SeedReturns(), [10], [10], threshold=6.0)
    rec = sel.evaluate(1, _act, _weights(1), confirm=False)
    assert "confirm_mean" not in rec
    assert not sel.confirmed
    assert sel.solved_at is not None


def test_counts_evaluation_and_confirmation_seconds_apart():
    sel = Selector(SeedReturns(), [1, 1], [9, 9], threshold=6.0)
    assert sel.seconds == {"evaluation": 0.0, "confirmation": 0.0}
    sel.evaluate(100, _act, _weights(1), confirm=True)  # below the threshold: no confirmation
    first = sel.seconds["evaluation"]
    assert first > 0 and sel.seconds["confirmation"] == 0.0
    sel.seeds = [7, 7]
    sel.evaluate(200, _act, _weights(2), confirm=True)  # reached: confirmed
    assert sel.confirmed
    assert sel.seconds["evaluation"] > first and sel.seconds["confirmation"] > 0


def test_plays_the_evaluator_with_its_seeds():
    calls = []

    class Recording(SeedReturns):
        def run(self, act, seeds):
            calls.append(list(seeds))
            return super().run(act, seeds)

    sel = Selector(Recording(), [10, 10], [8, 8, 8], threshold=6.0)
    sel.evaluate(1, _act, _weights(1), confirm=True)
    assert calls == [[10, 10], [8, 8, 8]]
