"""Parallel efficiency of the local grid backend, start-up per trial, peak memory per trial.

The same 8-combination grid runs twice through the real command line, each
trial in a fresh process on one thread: once with ``--workers 1`` (the trials one
by one) and once with ``--workers 2``. Every trial has a fixed step budget, so
both runs do the same work. The figures:

- ``wall(2 workers) / wall(1 worker)``; the target is at most 0.55;
- per run, ``wall / (sum of the trials' training seconds / workers)``: how much of
  the wall clock is not training (start-up, saving, the group's own steps); the
  target for 2 workers is at most 1.25;
- per trial, its process's start-up (``phases.startup`` in its result.json: from the
  process's start to the trial's) and its peak memory (``peak_rss_mb``; target at
  most 600 MiB).

With ``--repeats N`` the pair runs N times, one after the other.
Writes benchmarks/results/grid.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Run, add_run_options, installed_versions, last_json_line

GRID = ["--gamma", "0.98", "0.99", "--learning-rate", "1e-3", "2.3e-3",
        "--batch-size", "32", "64"]
PACKAGES = ("cartpole", "numpy", "tensorflow-cpu", "tensorflow", "keras", "gymnasium")
TARGET = 0.55  # the grid issue's target for wall(2 workers) / wall(1 worker)
# The training-speed issue's targets: wall / (training seconds / workers) with 2 workers,
# and peak memory of one trial process.
TARGETS = {"ratio": TARGET, "wall_over_training": 1.25, "peak_rss_mb": 600}


def run_grid(workers: int, steps: int, work: Path, tag: str,
             grid: list[str] = GRID) -> dict[str, Any]:
    args = ["train", *grid, "--steps", str(steps), "--no-stop-on-solve",
            "--workers", str(workers), "--threads", "1"]
    folder = work / f"{tag}-w{workers}"
    folder.mkdir()
    load = round(os.getloadavg()[0], 2)  # other work on the machine, if any
    started = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("cartpole")), *args],
                          cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"cartpole {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    trials = last_json_line(proc.stdout)["trials"]
    train_sum = sum(t["seconds"] for t in trials)
    rss = [t["peak_rss_mb"] for t in trials if t.get("peak_rss_mb") is not None]
    phases = {t["trial"]: trial_phases(folder, t) for t in trials}
    startups = [p["startup"] for p in phases.values() if p and p.get("startup") is not None]
    return {
        "workers": workers, "command": "cartpole " + " ".join(args), "wall": round(wall, 3),
        "load_1min": load,
        "trials": len(trials),
        "train_seconds_sum": round(train_sum, 3),
        # 1 would be every worker training all the time, from the command's start to its end.
        "wall_over_training": round(wall / (train_sum / workers), 4) if train_sum else None,
        "peak_rss_mb_max": max(rss, default=None),
        "peak_rss_mb_mean": round(statistics.fmean(rss), 1) if rss else None,
        "startup_seconds_median": round(statistics.median(startups), 3) if startups else None,
        "startup_seconds_max": round(max(startups), 3) if startups else None,
        "phases": phases,
        "scores": {t["trial"]: t["score"] for t in trials},
    }


def trial_phases(folder: Path, trial: dict[str, Any]) -> dict[str, Any] | None:
    """The ``phases`` of a trial's result.json (None when its version writes none)."""
    try:
        record = json.loads((folder / trial["dir"] / "result.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    return record.get("phases")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15_000, help="env steps of each trial")
    parser.add_argument("--repeats", type=int, default=1, help="times to run the pair")
    parser.add_argument("--grid", default=" ".join(GRID),
                        help="the grid's hyperparameter options (a smaller one for a quick "
                             "check of the benchmark itself)")
    add_run_options(parser)
    args = parser.parse_args()
    run = Run("grid", "benchmarks.grid_parallel", args,
              {"steps": args.steps, "repeats": args.repeats, "grid": args.grid,
               "target_ratio": TARGET, "targets": TARGETS, "threads_per_trial": 1})
    run.versions.update(installed_versions(PACKAGES))
    pairs: list[dict[str, Any]] = run.results.setdefault("pairs", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-grid-bench-") as tmp:
        for i in range(args.repeats):
            one = run_grid(1, args.steps, Path(tmp), f"r{i}", args.grid.split())
            print(json.dumps({k: v for k, v in one.items() if k != "phases"}), flush=True)
            two = run_grid(2, args.steps, Path(tmp), f"r{i}", args.grid.split())
            print(json.dumps({k: v for k, v in two.items() if k != "phases"}), flush=True)
            pairs.append({"one": one, "two": two, "ratio": round(two["wall"] / one["wall"], 4),
                          "same_scores": one["scores"] == two["scores"]})
            print(json.dumps({"ratio": pairs[-1]["ratio"]}), flush=True)
            run.save()
    run.finish()


if __name__ == "__main__":
    main()
