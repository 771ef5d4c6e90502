"""A group's plan: every trial it holds, saved in ``runs/<group>/plan.json``.

The plan is written once, before any trial starts, so that ``--resume`` replays
exactly the same trials whatever the command line says the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError
from cartpole.fileio import read_json, write_json
from cartpole.hparams import HParams
from cartpole.paths import PLAN_FILE, RESULT_FILE
from cartpole.training.loop import TrialSpec
from cartpole.training.result import FINISHED, read_result

PLAN_FORMAT = "cartpole-plan/1"


@dataclass(frozen=True)
class Trial:
    """One combination and seed, with the folder it trains into."""

    trial: str
    spec: TrialSpec

    def dir(self, group_dir: Path) -> Path:
        return group_dir / self.trial

    def is_complete(self, group_dir: Path) -> bool:
        """Whether its result says it finished: completed or pruned (the .h5 may be gone
        on purpose: --keep-top)."""
        result = read_result(self.dir(group_dir) / RESULT_FILE)
        return result is not None and result.status in FINISHED


@dataclass
class Plan:
    group: str
    trials: list[Trial]
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "group": self.group,
            "options": self.options,
            "trials": [{"trial": t.trial, "spec": t.spec.to_dict()} for t in self.trials],
        }

    def save(self, group_dir: Path) -> None:
        write_json(group_dir / PLAN_FILE, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Plan:
        if data.get("format") != PLAN_FORMAT:
            raise ConfigError(f"{where} is not a cartpole plan")
        trials = [Trial(t["trial"], TrialSpec.from_dict(t["spec"])) for t in data["trials"]]
        return cls(data["group"], trials, data.get("options", {}))

    @classmethod
    def load(cls, group_dir: Path) -> Plan:
        path = group_dir / PLAN_FILE
        data = read_json(path, f"no group to resume at {group_dir} (no {PLAN_FILE})")
        return cls.from_dict(data, str(path))


def make_trials(combos: list[HParams], base: TrialSpec, seeds: int) -> list[Trial]:
    """One trial per combination and seed: t000, t001, ... in combination order."""
    trials: list[Trial] = []
    for combo in combos:
        for k in range(seeds):
            spec = TrialSpec(**{**base.__dict__, "hparams": combo, "seed": base.seed + k})
            trials.append(Trial(f"t{len(trials):03d}", spec))
    return trials
