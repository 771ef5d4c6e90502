"""Parallel efficiency of the local grid backend, and peak memory per worker.

The same 8-combination grid runs twice through the real command line, each
trial in a fresh process on one TensorFlow thread: once with ``--workers 1``
(the trials one by one) and once with ``--workers 2``. Every trial has a fixed
step budget, so both runs do the same work. The figure is
``wall(2 workers) / wall(1 worker)``; the target is at most 0.55.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, write_section

GRID = ["--gamma", "0.98", "0.99", "--learning-rate", "1e-3", "2.3e-3",
        "--batch-size", "32", "64"]
PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "gymnasium")


def run_grid(workers: int, steps: int, work: Path) -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("cartpole"))
    cmd = [exe, "train", *GRID, "--steps", str(steps), "--no-stop-on-solve",
           "--workers", str(workers), "--threads", "1", "--group", f"w{workers}",
           "-f", f"models/w{workers}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    trials = result["trials"]
    return {
        "workers": workers, "wall": wall, "trials": len(trials),
        "train_seconds_sum": sum(t["seconds"] for t in trials),
        "peak_rss_mb_max": max(t["peak_rss_mb"] for t in trials),
        "peak_rss_mb_mean": statistics.fmean(t["peak_rss_mb"] for t in trials),
        "scores": {t["trial"]: t["score"] for t in trials},
    }


def markdown(one: dict[str, Any], two: dict[str, Any], steps: int, command: str) -> str:
    ratio = two["wall"] / one["wall"]
    same = "yes" if one["scores"] == two["scores"] else "NO"
    return "\n".join([
        machine_line(PACKAGES),
        "",
        "| figure | `--workers 1` | `--workers 2` |",
        "|---|---|---|",
        f"| wall clock of the 8-trial grid (s) | {one['wall']:.1f} | {two['wall']:.1f} |",
        f"| of which training inside the trials, summed (s) | {one['train_seconds_sum']:.1f} "
        f"| {two['train_seconds_sum']:.1f} |",
        f"| ratio to one by one | 1 | **{ratio:.2f}** (target ≤ 0.55) |",
        f"| peak memory per worker, max / mean (MiB) | {one['peak_rss_mb_max']:.0f} / "
        f"{one['peak_rss_mb_mean']:.0f} | {two['peak_rss_mb_max']:.0f} / "
        f"{two['peak_rss_mb_mean']:.0f} |",
        f"| same scores in both runs | {same} | |",
        "",
        f"Each trial: {steps:,} env steps, no early stop, in a fresh process (TensorFlow "
        "import included in the wall clock).",
        "",
        f"Reproduce with `{command}`.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cartpole-grid-bench-") as tmp:
        one = run_grid(1, args.steps, Path(tmp))
        print(json.dumps(one), flush=True)
        two = run_grid(2, args.steps, Path(tmp))
        print(json.dumps(two), flush=True)
    print(json.dumps({"ratio": two["wall"] / one["wall"]}))
    if args.out:
        command = "make bench-grid" if args.steps == 15_000 else " ".join(sys.argv)
        write_section(args.out, "grid-parallel", markdown(one, two, args.steps, command))


if __name__ == "__main__":
    main()
