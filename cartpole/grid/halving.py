"""``--prune asha``: asynchronous successive halving whose first rung waits for peers.

Rungs sit at ``first``, ``first * reduction``, ``first * reduction**2``, ... env steps.
A trial reaching a rung goes on only if its value there (its first report at or past the
rung's step) is in the top ``1 / reduction`` of the values every trial reported there so
far, or, while fewer than ``reduction`` trials have, the best of them: the rule of
Optuna's ``SuccessiveHalvingPruner``, read here from the trials' reported values. With
reports made one after another its verdicts are Optuna's (a test checks it); when trials
report at once, each also sees the values the others reported before their verdicts.

What differs: Optuna's pruner promotes the first trials to reach a rung unopposed (it
cannot pause a trial), so with a few workers the first trials of a group, good or bad,
train their whole budget. Here a trial reaching the *first* rung, while fewer than
``reduction`` trials have reported there and more may still come, waits for them; it
tells the runner (``on_wait``), which starts another trial in its place; one released
that goes on then trains beside that trial, so for a while one trial more than the
workers may train. Only the first ``reduction - 1`` arrivals wait, and at most
``MIN_PATIENCE_SECONDS`` or ``PATIENCE_FACTOR`` times the trial's age, whichever is
longer (a trial left RUNNING by a killed command never reports); a stop request (Ctrl-C,
SIGTERM) ends the wait at once. Later rungs do not wait: few trials reach them, and a
trial waiting there would hold its model and replay buffer in memory the longest.
Without ``on_wait`` (Ray, one trial in this process) nothing waits: a waiting trial
would hold its worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from cartpole.training.stopping import stop_requested

POLL_SECONDS = 0.25  # how often a waiting trial reads the study again
MIN_PATIENCE_SECONDS = 10.0
PATIENCE_FACTOR = 4.0  # a waiting trial waits at most this many times its own age


def rung_value(trial: Any, rung: int) -> float | None:
    """The trial's value at the rung: its first report at or past the rung's step."""
    past = [s for s in trial.intermediate_values if s >= rung]
    return trial.intermediate_values[min(past)] if past else None


def promotable(value: float, values: Sequence[float], reduction: int) -> bool:
    """Whether ``value`` is in the top ``1 / reduction`` of ``values`` (which hold it),
    or, with fewer than ``reduction`` values, the best."""
    keep = max(1, len(values) // reduction)
    return value >= sorted(values, reverse=True)[keep - 1]


class Halving(optuna.pruners.BasePruner):
    """Successive halving (maximising) in env steps; the first rung waits for peers."""

    def __init__(self, first: int, reduction: int, expected: int | None = None,
                 on_wait: Callable[[bool], None] | None = None,
                 trial_key: str | None = None) -> None:
        """``expected``: how many trials the group runs (a sampled search creates them as
        it goes); ``trial_key``: the user attribute naming a trial, so that reruns of
        one count once; ``on_wait(True/False)``: the trial starts/stops waiting (None:
        never wait)."""
        self.first, self.reduction = first, reduction
        self.expected, self.on_wait, self.trial_key = expected, on_wait, trial_key
        self.born = time.monotonic()  # made as its trial starts: the trial's age

    def rungs(self, step: int) -> list[int]:
        out, rung = [], self.first
        while rung <= step:
            out.append(rung)
            rung *= self.reduction
        return out

    def prune(self, study: Any, trial: Any) -> bool:
        step = trial.last_step
        if step is None:
            return False
        earlier = [s for s in trial.intermediate_values if s < step]
        previous = max(earlier) if earlier else -1
        for rung in self.rungs(step):
            if previous >= rung:  # decided at an earlier report
                continue
            value = trial.intermediate_values[step]
            if value != value:  # NaN
                return True
            if rung == self.first and self.on_wait is not None:
                self._wait_for_peers(study, trial, rung)
                if stop_requested():  # Ctrl-C or SIGTERM while it waited: it stops anyway
                    return False
            values = [v for t in study.get_trials(deepcopy=False)
                      if (v := rung_value(t, rung)) is not None and v == v]
            if not promotable(value, values, self.reduction):
                return True
        return False

    def _wait_for_peers(self, study: Any, trial: Any, rung: int) -> None:
        if not self._should_wait(study.get_trials(deepcopy=False), trial, rung):
            return
        assert self.on_wait is not None
        now = time.monotonic()
        deadline = now + max(MIN_PATIENCE_SECONDS, PATIENCE_FACTOR * (now - self.born))
        self.on_wait(True)
        try:
            while time.monotonic() < deadline and not stop_requested():
                time.sleep(POLL_SECONDS)
                if not self._should_wait(study.get_trials(deepcopy=False), trial, rung):
                    break
        finally:
            self.on_wait(False)

    def _should_wait(self, trials: list[Any], me: Any, rung: int) -> bool:
        """Fewer than ``reduction`` trials reported at the rung, and another may yet (a
        trial rerun after an interruption counts once)."""
        state = optuna.trial.TrialState
        reached = {self._name(t) for t in trials
                   if (v := rung_value(t, rung)) is not None and v == v}
        if len(reached) >= self.reduction:
            return False
        for t in trials:
            if t.number != me.number and rung_value(t, rung) is None and t.state in (
                    state.RUNNING, state.WAITING):
                return True
        if self.expected is None:
            return False
        return len({self._name(t) for t in trials}) < self.expected

    def _name(self, trial: Any) -> Any:
        """The group's name for an Optuna trial (its number if it has none)."""
        return trial.user_attrs.get(self.trial_key, trial.number) if self.trial_key \
            else trial.number
