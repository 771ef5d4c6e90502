"""A group of trials in ``runs/<group>/``: naming, leaderboard and the result line."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartpole import artifacts
from cartpole.errors import ConfigError
from cartpole.fileio import write_json, write_text

LEADERBOARD_JSON = "leaderboard.json"
LEADERBOARD_CSV = "leaderboard.csv"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CSV_COLUMNS = ("rank", "trial", "status", "score", "score_std", "steps", "episodes",
                "seconds", "solved_at_step", "seed", "hparams")


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


def ranked(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed trials by score, best first; the rest after them."""
    def key(t: dict[str, Any]) -> tuple[int, float]:
        score = t.get("score")
        return (0, -score) if t.get("status") == "completed" and score is not None else (1, 0.0)

    return sorted(trials, key=key)


def write_leaderboard(group_dir: Path, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the leaderboard as JSON and CSV; return the ranked rows."""
    rows = [{"rank": i + 1, **{k: t.get(k) for k in _CSV_COLUMNS if k != "rank"}}
            for i, t in enumerate(ranked(trials))]
    write_json(group_dir / LEADERBOARD_JSON, rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "hparams": _compact(row.get("hparams"))})
    write_text(group_dir / LEADERBOARD_CSV, buf.getvalue())
    return rows


def _compact(hparams: dict[str, Any] | None) -> str:
    if not hparams:
        return ""
    return " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in hparams.items())


def group_result(group: str, group_dir: Path, trials: list[dict[str, Any]],
                 published: Path | None) -> dict[str, Any]:
    """The JSON object printed as the last line of ``cartpole train``."""
    best = next(iter(ranked(trials)), None)
    ok = best is not None and best.get("status") == "completed"
    return {
        "group": group,
        "model": str(published) if published else None,
        "score": best.get("score") if ok else None,
        "hparams": best.get("hparams") if ok else None,
        "trial": best.get("trial") if ok else None,
        "run_dir": str(group_dir),
        "trials": [
            {k: t.get(k) for k in ("trial", "status", "score", "score_std", "steps",
                                   "episodes", "seconds", "solved_at_step", "seed",
                                   "hparams", "dir", "error") if k in t}
            for t in trials
        ],
    }


__all__ = ["artifacts", "check_group_name", "group_result", "new_group_name", "ranked",
           "write_leaderboard"]
