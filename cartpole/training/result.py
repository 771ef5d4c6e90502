"""A trial's result: what ``runs/<group>/<trial>/result.json`` holds, as one typed record.

The trial writes it (``trial_dir.train_into``); the grid runner, its backends, the
leaderboard, the status board and the report read it back with ``read_result``.
``to_dict`` gives the file's JSON object, key for key and in the same order, and
``from_dict(data).to_dict() == data`` for any file, of this version or an older one:

- keys that this class does not name (the worker's ``peak_rss_mb`` and ``attempt``,
  or those of another version) travel in ``extra``, in their order, after the rest;
- keys that an older file lacks are remembered in ``missing`` and left out again.

The group runner keeps its own keys beside these (``label``, ``pid``, ``error``, ...):
its record of a trial is ``{**runner keys, **result.to_dict()}``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.fileio import write_json
from cartpole.paths import RESULT_FILE

KEPT_PREVIOUS = "previous"  # ``kept``: an earlier attempt's better model stays in place
# A trial that ran to its end: trained its budget or solved ("completed"), or was stopped
# early by the search's pruner ("pruned"). --resume reruns every other trial.
FINISHED = ("completed", "pruned")


@dataclass(frozen=True)
class TrialResult:
    """One trial's outcome and where its files are."""

    trial: str
    status: str  # "completed", "pruned", or "interrupted" (best model so far kept)
    score: float | None = None  # greedy evaluation mean of the best model
    score_std: float | None = None
    best_step: int | None = None  # env step of the best model's evaluation
    confirmed_score: float | None = None  # the best model re-evaluated on more episodes
    steps: int = 0
    episodes: int = 0
    seconds: float = 0.0
    solved: bool = False
    solved_at_step: int | None = None
    solved_at_seconds: float | None = None
    seed: int = 0
    hparams: dict[str, Any] = field(default_factory=dict)
    dir: str = ""  # the trial folder
    model: str = ""  # its model.h5
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    kept: str | None = None  # KEPT_PREVIOUS: the figures above are the earlier model's
    rerun_score: float | None = None  # with ``kept``: this attempt's own best score
    undelivered: dict[str, int] = field(default_factory=dict)  # events per engine
    phases: dict[str, float | None] = field(default_factory=dict)  # training/phases.py
    extra: dict[str, Any] = field(default_factory=dict)
    missing: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def attempt(self) -> str | None:
        """The attempt that wrote the result (from ``job.json``), if a worker ran it."""
        return self.extra.get("attempt")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``result.json``."""
        data: dict[str, Any] = {}
        for f in _FIELDS:
            if f in self.missing or (f in _WITH_KEPT and self.kept is None):
                continue
            data[f] = getattr(self, f)
        return {**data, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        """The inverse of ``to_dict``; any object is accepted, whatever its keys."""
        known = {f: data[f] for f in _FIELDS if f in data}
        missing = frozenset(f for f in _FIELDS if f not in data and f not in _WITH_KEPT)
        known.setdefault("trial", "")
        known.setdefault("status", "")
        extra = {k: v for k, v in data.items() if k not in _FIELDS}
        return cls(**known, extra=extra, missing=missing)

    def write(self, trial_dir: Path) -> None:
        """Write ``result.json`` into ``trial_dir``, atomically."""
        write_json(trial_dir / RESULT_FILE, self.to_dict())


_FIELDS = tuple(f.name for f in dataclasses.fields(TrialResult)
                if f.name not in ("extra", "missing"))
_WITH_KEPT = ("kept", "rerun_score")  # written only when an earlier model is kept


def read_result(path: Path) -> TrialResult | None:
    """The result in ``path`` (a ``result.json``); None if it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return TrialResult.from_dict(data) if isinstance(data, dict) else None
