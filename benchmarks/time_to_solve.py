"""Time-to-solve CartPole-v1: `cartpole train` against stable-baselines3 DQN.

Each seed of each side runs in a fresh process on one thread, the two sides
interleaved (ours seed 0, SB3 seed 0, ours seed 1, ...) so that both see the same
machine state. Time-to-solve is the first wall-clock second at which a 20-episode
greedy evaluation has a mean of at least 475:

- ours: ``cartpole train --seed N --steps S --threads 1``, exactly as a user runs it
  (each seed in a folder of its own); from the start of training, our own
  evaluations included;
- SB3: from the start of training, its evaluation callback excluded.

Our saved .h5 is then re-evaluated on 100 greedy episodes it was never judged on.
Writes benchmarks/results/solve.json; ``python -m benchmarks.render`` makes the tables.
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

from benchmarks.harness import ROOT, Run, add_run_options, installed_versions, last_json_line

THRESHOLD = 475.0
FINAL_EPISODES = 100
PACKAGES = ("cartpole", "tensorflow-cpu", "tensorflow", "keras", "stable-baselines3", "torch",
            "gymnasium")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(cmd: list[str], cwd: Path) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **ONE_THREAD}, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout, wall


def run_ours(seed: int, steps: int, work: Path) -> dict[str, Any]:
    """`cartpole train` as a user runs it, in a folder of its own (default paths)."""
    folder = work / f"cartpole-s{seed}"
    folder.mkdir()
    args = ["train", "--seed", str(seed), "--steps", str(steps), "--threads", "1"]
    stdout, wall = _run([str(Path(sys.executable).with_name("cartpole")), *args], folder)
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1])
    trial = result["trials"][0]
    record = json.loads((folder / trial["dir"] / "result.json").read_text())
    final = final_eval(folder / result["model"], seed)
    return {"impl": "cartpole", "seed": seed, "command": "cartpole " + " ".join(args),
            "solved_at_step": trial["solved_at_step"],
            "solved_at_seconds": record.get("solved_at_seconds"),
            "steps_done": trial["steps"], "train_seconds": trial["seconds"],
            "best_eval": trial["score"], "final_eval_mean": final,
            "final_solves": final >= THRESHOLD, "process_wall": round(wall, 3),
            "summary_line": lines[-2], "result": result}


def final_eval(h5: Path, seed: int) -> float:
    """100 greedy episodes of the saved model, numpy forward pass, unseen seeds."""
    from cartpole.agent.h5 import load_policy
    from cartpole.envs.make import make_env
    from cartpole.training.evaluate import evaluate

    policy = load_policy(h5)
    envs = [make_env() for _ in range(25)]
    seeds = [2_000_003 + seed + i for i in range(FINAL_EPISODES)]
    return evaluate(envs, policy.act, seeds).mean


def run_sb3(seed: int, steps: int, work: Path) -> dict[str, Any]:
    script = str(ROOT / "benchmarks" / "sb3_dqn.py")
    stdout, wall = _run([sys.executable, script, "--seed", str(seed), "--steps", str(steps)],
                        work)
    res = last_json_line(stdout)
    res["process_wall"] = round(wall, 3)
    return res


def median_unsolved_last(values: list[float | None]) -> float | None:
    """Median where an unsolved seed (None) counts as slower than every solved one;
    None when the unsolved are at least half (no finite median)."""
    done = [v for v in values if v is not None]
    if len(done) * 2 <= len(values):
        return None
    padded = sorted(done) + [float("inf")] * (len(values) - len(done))
    return statistics.median(padded)


def summarise(ours: list[dict[str, Any]], sb3: list[dict[str, Any]]) -> dict[str, Any]:
    paired = {r["seed"] for r in sb3}
    ours_paired = [r for r in ours if r["seed"] in paired]
    med_ours = median_unsolved_last([r["solved_at_seconds"] for r in ours_paired])
    med_sb3 = median_unsolved_last([r["solved_at_seconds"] for r in sb3])
    return {
        "paired_seeds": sorted(paired),
        "ours_solved": sum(r["solved_at_step"] is not None for r in ours),
        "ours_final_solves": sum(r["final_solves"] for r in ours),
        "ours_median_seconds": median_unsolved_last([r["solved_at_seconds"] for r in ours]),
        "ours_median_seconds_paired": med_ours,
        "ours_median_train_seconds": statistics.median(r["train_seconds"] for r in ours),
        "ours_median_process_wall": statistics.median(r["process_wall"] for r in ours),
        "sb3_median_seconds": med_sb3,
        "ratio": (med_ours / med_sb3) if med_ours and med_sb3 else None,
        "sb3_solved": sum(r["solved_at_step"] is not None for r in sb3),
        "sb3_final_solves": sum(bool(r.get("final_solves")) for r in sb3),
        "sb3_train_seconds_min": min((r["train_seconds"] for r in sb3), default=None),
        "sb3_train_seconds_max": max((r["train_seconds"] for r in sb3), default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds for cartpole")
    parser.add_argument("--sb3-seeds", type=int, default=5,
                        help="seeds for SB3 (paired with ours: 0 .. N-1)")
    parser.add_argument("--steps", type=int, default=50_000, help="env-step budget, both sides")
    add_run_options(parser)
    args = parser.parse_args()
    run = Run("solve", "benchmarks.time_to_solve", args,
              {"seeds": args.seeds, "sb3_seeds": args.sb3_seeds, "steps": args.steps,
               "threshold": THRESHOLD, "eval_episodes": 20, "final_episodes": FINAL_EPISODES,
               "threads_per_run": 1})
    run.versions.update(installed_versions(PACKAGES))
    ours: list[dict[str, Any]] = run.results.setdefault("cartpole", [])
    sb3: list[dict[str, Any]] = run.results.setdefault("sb3", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-bench-") as tmp:
        work = Path(tmp)
        for seed in range(max(args.seeds, args.sb3_seeds)):
            if seed < args.seeds:
                ours.append(run_ours(seed, args.steps, work))
                print(json.dumps({k: v for k, v in ours[-1].items() if k != "result"}),
                      flush=True)
            if seed < args.sb3_seeds:
                sb3.append(run_sb3(seed, args.steps, work))
                print(json.dumps({k: v for k, v in sb3[-1].items() if k != "evaluations"}),
                      flush=True)
            run.save()
    run.results["summary"] = summarise(ours, sb3)
    print(json.dumps(run.results["summary"]), flush=True)
    run.finish()


if __name__ == "__main__":
    main()
