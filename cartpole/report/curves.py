"""A trial's learning and evaluation curves, read back from its ``events.jsonl``
(with ``training.events.read_events``: a line that does not parse is skipped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.training.events import read_events


@dataclass
class Curves:
    """Per-episode scores and greedy evaluations, each against env steps."""

    episode_steps: list[int] = field(default_factory=list)
    episode_scores: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_means: list[float] = field(default_factory=list)
    eval_stds: list[float | None] = field(default_factory=list)
    env_id: str | None = None
    ended: dict[str, Any] | None = None  # the trial_end event, once there is one

    @property
    def episodes(self) -> int:
        return len(self.episode_scores)

    @property
    def last_step(self) -> int | None:
        steps = [*self.episode_steps[-1:], *self.eval_steps[-1:]]
        return max(steps) if steps else None


def read_curves(path: Path) -> Curves:
    """Curves from an events file; a missing file gives empty curves."""
    curves = Curves()
    for event in read_events(path):
        _add(curves, event)
    return curves


def _add(curves: Curves, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "episode" and _number(event.get("score")) and _number(event.get("total_steps")):
        curves.episode_steps.append(event["total_steps"])
        curves.episode_scores.append(event["score"])
    elif kind == "eval" and _number(event.get("eval_mean")) and _number(event.get("step")):
        curves.eval_steps.append(event["step"])
        curves.eval_means.append(event["eval_mean"])
        std = event.get("eval_std")
        curves.eval_stds.append(std if _number(std) else None)
    elif kind == "trial_start" and isinstance(event.get("env"), str):
        curves.env_id = event["env"]
    elif kind == "trial_end":
        curves.ended = event


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
