"""Parallel efficiency of the local grid backend, and peak memory per worker.

The same 8-combination grid runs twice through the real command line, each
trial in a fresh process on one TensorFlow thread: once with ``--workers 1``
(the trials one by one) and once with ``--workers 2``. Every trial has a fixed
step budget, so both runs do the same work. The figure is
``wall(2 workers) / wall(1 worker)``; the target is at most 0.55. With
``--repeats N`` the pair runs N times, one after the other.
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
PACKAGES = ("cartpole", "tensorflow-cpu", "tensorflow", "keras", "gymnasium")
TARGET = 0.55  # the grid issue's target for wall(2 workers) / wall(1 worker)


def run_grid(workers: int, steps: int, work: Path, tag: str) -> dict[str, Any]:
    args = ["train", *GRID, "--steps", str(steps), "--no-stop-on-solve",
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
    return {
        "workers": workers, "command": "cartpole " + " ".join(args), "wall": round(wall, 3),
        "load_1min": load,
        "trials": len(trials),
        "train_seconds_sum": round(sum(t["seconds"] for t in trials), 3),
        "peak_rss_mb_max": max(t["peak_rss_mb"] for t in trials),
        "peak_rss_mb_mean": round(statistics.fmean(t["peak_rss_mb"] for t in trials), 1),
        "scores": {t["trial"]: t["score"] for t in trials},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15_000, help="env steps of each trial")
    parser.add_argument("--repeats", type=int, default=1, help="times to run the pair")
    add_run_options(parser)
    args = parser.parse_args()
    run = Run("grid", "benchmarks.grid_parallel", args,
              {"steps": args.steps, "repeats": args.repeats, "grid": " ".join(GRID),
               "target_ratio": TARGET, "threads_per_trial": 1})
    run.versions.update(installed_versions(PACKAGES))
    pairs: list[dict[str, Any]] = run.results.setdefault("pairs", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-grid-bench-") as tmp:
        for i in range(args.repeats):
            one = run_grid(1, args.steps, Path(tmp), f"r{i}")
            print(json.dumps(one), flush=True)
            two = run_grid(2, args.steps, Path(tmp), f"r{i}")
            print(json.dumps(two), flush=True)
            pairs.append({"one": one, "two": two, "ratio": round(two["wall"] / one["wall"], 4),
                          "same_scores": one["scores"] == two["scores"]})
            print(json.dumps({"ratio": pairs[-1]["ratio"]}), flush=True)
            run.save()
    run.finish()


if __name__ == "__main__":
    main()
