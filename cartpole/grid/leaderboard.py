"""The group's leaderboard: combinations ranked by mean evaluation score over seeds."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError
from cartpole.fileio import write_json, write_text
from cartpole.hparams import HPARAM_NAMES
from cartpole.paths import LEADERBOARD_CSV, LEADERBOARD_JSON

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CSV_COLUMNS = ("rank", "status", "score_mean", "score_std", "seeds", "best_trial",
                "best_score", "steps_mean", "seconds_mean", "trials", "undelivered")
TRIAL_KEYS = ("trial", "status", "score", "score_std", "steps", "episodes", "seconds",
              "solved_at_step", "seed", "hparams", "dir", "error", "peak_rss_mb",
              "undelivered", "kept")


def new_group_name() -> str:
    """A sortable, unique group name such as ``20261122-061502-a3f9``."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_group_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"group name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _scored(trial: dict[str, Any]) -> bool:
    """A trial with a model to rank: completed, pruned, or interrupted after an evaluation."""
    return (trial.get("status") in ("completed", "pruned", "interrupted")
            and trial.get("score") is not None)


# A combination with no scored seed takes the status of its furthest seed: one that never
# started is pending, as `cartpole status` says of its trials, not failed.
# "elsewhere": run by another command sharing the study; its model is on that machine.
_UNSCORED = ("running", "stale", "failed", "interrupted", "pending", "elsewhere")


def _combination_status(members: list[dict[str, Any]], scored: bool) -> str:
    statuses = {t["status"] for t in members}
    if statuses == {"completed"}:
        return "completed"
    if statuses <= {"completed", "pruned"}:  # ran to its end, some seed stopped early
        return "pruned"
    if scored:
        return "partial"
    return next((s for s in _UNSCORED if s in statuses), "failed")


def _mean_of(trials: list[dict[str, Any]], key: str) -> float | None:
    values = [t[key] for t in trials if t.get(key) is not None]
    return statistics.fmean(values) if values else None


def rank_combinations(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per combination (its seeds pooled), best mean score first."""
    combos: dict[str, list[dict[str, Any]]] = {}
    for t in trials:
        combos.setdefault(json.dumps(t["hparams"], sort_keys=True), []).append(t)
    rows = []
    for members in combos.values():
        done = [t for t in members if _scored(t)]
        scores = [t["score"] for t in done]
        best = max(done, key=lambda t: t["score"]) if done else None
        rows.append({
            "status": _combination_status(members, bool(done)),
            "score_mean": statistics.fmean(scores) if scores else None,
            "score_std": statistics.pstdev(scores) if len(scores) > 1 else None,
            "confirmed_mean": _mean_of(done, "confirmed_score"),
            "seeds": len(done),
            "best_trial": best["trial"] if best else None,
            "best_score": best["score"] if best else None,
            "steps_mean": statistics.fmean(t["steps"] for t in done) if done else None,
            "seconds_mean": statistics.fmean(t["seconds"] for t in done) if done else None,
            "trials": [t["trial"] for t in members],
            "undelivered": undelivered(members),
            "hparams": members[0]["hparams"],
        })
    # Combinations with every seed scored first: a lone surviving seed must not win.
    # Then combinations that trained to the end before those a pruner stopped early.
    # Equal scores (CartPole's 500 cap makes them common) go to the higher score over
    # the confirmation's further episodes, a surer sign of a model that holds.
    rows.sort(key=lambda r: (r["score_mean"] is None, r["status"] != "completed",
                             r["status"] != "pruned", -(r["score_mean"] or 0.0),
                             -(r["confirmed_mean"] or 0.0), -(r["best_score"] or 0.0)))
    return [{"rank": i + 1, **r} for i, r in enumerate(rows)]


def write_leaderboard(group_dir: Path, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the leaderboard as JSON and CSV (one column per hyperparameter)."""
    rows = rank_combinations(trials)
    write_json(group_dir / LEADERBOARD_JSON, rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*_CSV_COLUMNS, *HPARAM_NAMES],
                            lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = {k: row[k] for k in _CSV_COLUMNS}
        flat["trials"] = " ".join(row["trials"])
        flat["undelivered"] = " ".join(f"{k}={v}" for k, v in row["undelivered"].items())
        for name, value in row["hparams"].items():
            flat[name] = ",".join(map(str, value)) if isinstance(value, list) else value
        writer.writerow(flat)
    write_text(group_dir / LEADERBOARD_CSV, buf.getvalue())
    return rows


def undelivered(trials: list[dict[str, Any]]) -> dict[str, int]:
    """Events each metrics engine could not deliver, summed over ``trials``."""
    total: dict[str, int] = {}
    for t in trials:
        for engine, n in (t.get("undelivered") or {}).items():
            total[engine] = total.get(engine, 0) + n
    return total


def best_trial(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best seed of the best-ranked combination."""
    rows = rank_combinations(trials)
    if not rows or rows[0]["best_trial"] is None:
        return None
    return next(t for t in trials if t["trial"] == rows[0]["best_trial"])


def group_result(group: str, group_dir: Path, trials: list[dict[str, Any]],
                 published: Path | None, state: str) -> dict[str, Any]:
    """The JSON object printed as the last line of ``cartpole train``."""
    best = best_trial(trials)
    return {
        "group": group,
        "state": state,
        "model": str(published) if published else None,
        "score": best["score"] if best else None,
        "hparams": best["hparams"] if best else None,
        "trial": best["trial"] if best else None,
        "run_dir": str(group_dir),
        "undelivered": undelivered(trials),
        "trials": [{k: t[k] for k in TRIAL_KEYS if k in t} for t in trials],
    }
