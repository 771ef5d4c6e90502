"""A trial folder between two attempts: what ``--resume`` keeps of the earlier one.

An interrupted (or killed) attempt may have left its best-so-far model. The rerun
must not lose it before it has a better one, so the folder keeps ``model.h5``,
``metadata.json`` and ``result.json`` in place, moves the earlier attempt's
``events.jsonl`` and ``worker.log`` to ``attempts/<n>/``, and clears the rest. The
kept model's figures travel to the rerun in its job description (``previous``); the
rerun replaces the pair only with a model at least as good (``trial_dir.improves``). A
folder without a usable model is cleared entirely, as before.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from cartpole.agent.modelfile import read_pair
from cartpole.agent.publish import repair_pair
from cartpole.errors import ModelMismatchError
from cartpole.paths import (
    ATTEMPTS_DIR,
    EVENTS_FILE,
    LOG_FILE,
    METADATA_FILE,
    MODEL_FILE,
    RESULT_FILE,
)
from cartpole.training.result import read_result

log = logging.getLogger(__name__)

KEPT = (MODEL_FILE, METADATA_FILE, RESULT_FILE, ATTEMPTS_DIR)
ARCHIVED = (EVENTS_FILE, LOG_FILE)
_FIGURES = ("score", "score_std", "best_step", "confirmed_score")
_SOLVED = ("solved", "solved_at_step", "solved_at_seconds")


def clear_for_rerun(trial_dir: Path) -> dict[str, Any] | None:
    """Prepare ``trial_dir`` for a new attempt; return the kept model's figures, if any."""
    if not trial_dir.exists():
        return None
    repair_pair(trial_dir / MODEL_FILE, trial_dir / METADATA_FILE)
    previous = best_so_far(trial_dir)
    if previous is None:
        shutil.rmtree(trial_dir)
        return None
    _archive(trial_dir)
    for child in trial_dir.iterdir():
        if child.name in KEPT:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    log.info("%s: keeping the best-so-far model (score %s) until the rerun beats it",
             trial_dir, previous["score"])
    return previous


def best_so_far(trial_dir: Path) -> dict[str, Any] | None:
    """The figures of the model an earlier attempt left, if it is a whole, scored pair."""
    try:
        pair = read_pair(trial_dir / MODEL_FILE, trial_dir / METADATA_FILE, settle=0.0)
    except ModelMismatchError as exc:
        log.warning("%s; it cannot be kept", exc)
        return None
    except OSError:
        return None
    if not pair.metadata or pair.metadata.get("score") is None:
        return None
    figures = {k: pair.metadata.get(k) for k in _FIGURES}
    kept = read_result(trial_dir / RESULT_FILE)
    result = kept.to_dict() if kept is not None else {}
    if result.get("score") == figures["score"]:
        figures.update({k: result[k] for k in _SOLVED if k in result})
    return figures


def _archive(trial_dir: Path) -> None:
    names = [n for n in ARCHIVED if (trial_dir / n).exists()]
    if not names:
        return
    root = trial_dir / ATTEMPTS_DIR
    taken = [int(p.name) for p in root.glob("*") if p.name.isdigit()] if root.exists() else []
    target = root / str(max(taken, default=0) + 1)
    target.mkdir(parents=True)
    for name in names:
        (trial_dir / name).rename(target / name)
