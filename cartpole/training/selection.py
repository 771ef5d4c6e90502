"""Model selection: periodic greedy evaluations, the best snapshot, and when to stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cartpole.training.evaluate import EvalResult, GreedyFn


class Runner(Protocol):
    """What ``Selector`` needs of an evaluator (``Evaluator`` is one)."""

    def run(self, act: GreedyFn, seeds: Sequence[int]) -> EvalResult: ...


@dataclass
class Snapshot:
    """Weights as they were at one evaluation, with that evaluation's figures."""

    step: int
    score: float
    std: float
    weights: list[np.ndarray]
    confirmed_score: float | None = None


class Selector:
    """Evaluates the policy on fixed, separately seeded episodes and keeps the best weights.

    When an evaluation reaches the reward threshold, ``confirm_seeds`` more episodes
    are played; if the mean over all of them still reaches it, that snapshot is
    *confirmed*: it becomes the kept model and training may stop.

    ``solved_at`` names the evaluation that solved the task: the first whose
    confirmation held, or, when confirmation is off (``confirm=False`` or no
    ``confirm_seeds``), the first that reached the threshold. An evaluation that
    reached it but failed its confirmation does not count.

    ``seconds`` adds up the wall time spent playing plain evaluations and confirmations.
    """

    def __init__(self, evaluator: Runner, seeds: Sequence[int],
                 confirm_seeds: Sequence[int], threshold: float | None,
                 started: float | None = None) -> None:
        self.evaluator, self.seeds, self.confirm_seeds = evaluator, list(seeds), list(confirm_seeds)
        self.threshold = threshold
        self.started = time.perf_counter() if started is None else started
        self.best: Snapshot | None = None
        self.solved_at: tuple[int, float] | None = None
        self.confirmed = False
        self.history: list[dict[str, Any]] = []
        self.seconds: dict[str, float] = {"evaluation": 0.0, "confirmation": 0.0}

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def evaluate(self, step: int, act: GreedyFn,
                 weights: Callable[[], list[np.ndarray]], confirm: bool) -> dict[str, Any]:
        """Evaluate at ``step``; return the record (also kept in ``history``)."""
        result = self._timed("evaluation", act, self.seeds)
        record: dict[str, Any] = {"step": step, "eval_mean": result.mean,
                                  "eval_std": result.std, "seconds": round(self.elapsed(), 3)}
        reached = self.threshold is not None and result.mean >= self.threshold
        confirming = confirm and bool(self.confirm_seeds)
        solved = reached and not confirming
        snapshot: Snapshot | None = None
        if self.best is None or result.mean > self.best.score:
            snapshot = Snapshot(step, result.mean, result.std, weights())
        if reached and confirming:
            extra = self._timed("confirmation", act, self.confirm_seeds)
            overall = float(np.mean([*result.returns, *extra.returns]))
            record["confirm_mean"] = overall
            if overall >= self.threshold:  # type: ignore[operator]
                snapshot = snapshot or Snapshot(step, result.mean, result.std, weights())
                snapshot.confirmed_score = overall
                self.confirmed = solved = True
        if solved and self.solved_at is None:
            self.solved_at = (step, self.elapsed())
        if snapshot is not None:
            self.best = snapshot
        record["best"] = self.best.score if self.best else None
        self.history.append(record)
        return record

    def _timed(self, kind: str, act: GreedyFn, seeds: Sequence[int]) -> EvalResult:
        start = time.perf_counter()
        try:
            return self.evaluator.run(act, seeds)
        finally:
            self.seconds[kind] += time.perf_counter() - start
