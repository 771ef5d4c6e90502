"""``--prune asha`` on the local backend: a trial reaching the first rung waits for peers.

Optuna's ``SuccessiveHalvingPruner`` decides every verdict. It cannot pause a trial, so
it promotes the first trials to reach a rung unopposed; with a few workers the first
trials of a group, good or bad, then train their whole budget. Here a trial reaching the
*first* rung, while fewer than ``reduction`` trials have reported there and more may
still come, waits before it asks for its verdict, and tells the runner (``on_wait``),
which starts another trial in its place. Once enough have reported (or none can come),
the waiting trials ask Optuna one after the other, best value first: each is then
compared with every better one, as if they had arrived in that order. One released that
goes on trains beside the trial that took its worker, so for a while one trial more
than the workers may train.

A trial waits at most ``MIN_PATIENCE_SECONDS`` or ``PATIENCE_FACTOR`` times its own age,
whichever is longer (a trial left RUNNING by a killed command never reports); a stop
request (Ctrl-C, SIGTERM) ends the wait at once. Later rungs do not wait: few trials
reach them, and a trial waiting there would hold its model and replay buffer in memory
the longest. Nothing waits without ``on_wait`` (Ray, one trial in this process): a
waiting trial would hold its worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cartpole.training.stopping import stop_requested

POLL_SECONDS = 0.05  # how often a waiting trial reads the study again (few ever wait)
MIN_PATIENCE_SECONDS = 10.0
PATIENCE_FACTOR = 4.0  # a waiting trial waits at most this many times its own age
ASKED_ATTR = "cartpole_first_rung_asked"  # set once a trial had its first-rung verdict


def rung_value(trial: Any, rung: int) -> float | None:
    """The trial's value at the rung: its first report at or past the rung's step."""
    past = [s for s in trial.intermediate_values if s >= rung]
    return trial.intermediate_values[min(past)] if past else None


class FirstRungWait:
    """Holds a trial at the first rung (``rung`` env steps) until its verdict is fair."""

    def __init__(self, rung: int, reduction: int, on_wait: Callable[[bool], None],
                 expected: int | None = None, trial_key: str | None = None) -> None:
        """``expected``: how many trials the group runs (a sampled search creates them as
        it goes); ``trial_key``: the user attribute naming a trial, so that reruns of one
        count once; ``on_wait(True/False)``: the trial starts/stops waiting."""
        self.rung, self.reduction, self.on_wait = rung, reduction, on_wait
        self.expected, self.trial_key = expected, trial_key
        self.born = time.monotonic()  # made as its trial starts: the trial's age

    def crosses(self, previous: int | None, step: int) -> bool:
        """Whether a report at ``step``, the one after ``previous``, is the trial's first
        past the rung."""
        return step >= self.rung and (previous is None or previous < self.rung)

    def wait(self, study: Any, number: int) -> None:
        """Wait for peers, then for the better peers' verdicts; return at once if there
        is nothing to wait for."""
        now = time.monotonic()
        deadline = now + max(MIN_PATIENCE_SECONDS, PATIENCE_FACTOR * (now - self.born))
        waiting = False
        try:
            while not stop_requested():
                trials = study.get_trials(deepcopy=False)
                if not (self._peers_to_come(trials, number)
                        or self._better_undecided(trials, number)):
                    return
                if time.monotonic() > deadline:
                    return
                if not waiting:
                    waiting = True
                    self.on_wait(True)
                time.sleep(POLL_SECONDS)
        finally:
            if waiting:
                self.on_wait(False)

    def _name(self, trial: Any) -> Any:
        """The group's name for an Optuna trial (its number if it has none)."""
        return trial.user_attrs.get(self.trial_key, trial.number) if self.trial_key \
            else trial.number

    def _peers_to_come(self, trials: list[Any], number: int) -> bool:
        """Fewer than ``reduction`` trials reported at the rung, and another may yet (a
        trial rerun after an interruption counts once)."""
        import optuna

        running = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)
        reached = {self._name(t) for t in trials
                   if (v := rung_value(t, self.rung)) is not None and v == v}
        if len(reached) >= self.reduction:
            return False
        if any(t.number != number and t.state in running
               and rung_value(t, self.rung) is None for t in trials):
            return True
        return self.expected is not None and len({self._name(t) for t in trials}) < \
            self.expected

    def _better_undecided(self, trials: list[Any], number: int) -> bool:
        """Whether a running trial with a better value at the rung (or as good and
        earlier) has yet to ask for its verdict: it asks first."""
        import optuna

        mine = next(rung_value(t, self.rung) for t in trials if t.number == number)
        for t in trials:
            value = rung_value(t, self.rung)
            if (t.number == number or value is None or value != value
                    or t.state != optuna.trial.TrialState.RUNNING
                    or t.user_attrs.get(ASKED_ATTR)):
                continue
            if value > mine or (value == mine and t.number < number):
                return True
        return False
