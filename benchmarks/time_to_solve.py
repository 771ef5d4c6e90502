"""Time-to-solve CartPole-v1: `cartpole train` against stable-baselines3 PPO and DQN.

Each seed of each side runs in a fresh process on one thread, the sides interleaved
(ours seed 0, SB3 DQN seed 0, SB3 PPO seed 0, ours seed 1, ...) so that all see the
same machine state. Time-to-solve is the first wall-clock second at which a
20-episode greedy evaluation has a mean of at least 475, evaluated every 2,000 env
steps on the same separately seeded episodes:

- ours: ``cartpole train --seed N --steps S --threads 1``, exactly as a user runs it
  (each seed in a folder of its own); from the start of training, our own
  evaluations included;
- SB3 (``benchmarks/sb3_peer.py``, rl-baselines3-zoo CartPole-v1 hyperparameters):
  from the start of training, its evaluation callback excluded ("train-only"). DQN
  runs its whole budget; PPO stops at its first solving evaluation.

Every side's model is then evaluated on 100 greedy episodes it was never judged on:
our saved .h5, SB3 DQN's final model, SB3 PPO's model at its solving evaluation.
The headline is ours over SB3 PPO: the medians of time-to-solve, all seeds of each.
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
PACKAGES = ("cartpole", "numpy", "tensorflow-cpu", "tensorflow", "keras", "stable-baselines3",
            "torch", "gymnasium")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
              "TF_CPP_MIN_LOG_LEVEL": "2"}
# The targets: ours / SB3 PPO's train-only median, and seeds (and saved models) solving.
TARGETS = {"ratio_ppo": 0.75, "seeds_solving": 1.0, "final_solves": 1.0}


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
            "phases": record.get("phases"),
            "summary_line": lines[-2] if len(lines) > 1 else "", "result": result}


def final_eval(h5: Path, seed: int) -> float:
    """100 greedy episodes of the saved model on unseen seeds (``2_000_003 + seed + i``),
    each on a fresh ``gym.make`` env: the model's numpy forward pass, but none of the
    trainer's own evaluation code, so that the check does not share its bugs."""
    import gymnasium as gym
    import numpy as np

    from cartpole.agent.h5 import load_policy

    policy = load_policy(h5)
    seeds = [2_000_003 + seed + i for i in range(FINAL_EPISODES)]
    envs = [gym.make("CartPole-v1") for _ in seeds]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)])
    returns = np.zeros(len(envs))
    active = np.ones(len(envs), dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        actions = np.asarray(policy.act(obs[idx])).reshape(-1)
        for i, action in zip(idx, actions, strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += float(reward)
            if terminated or truncated:
                active[i] = False
    for env in envs:
        env.close()
    return float(returns.mean())


def run_sb3(algo: str, seed: int, steps: int | None, work: Path) -> dict[str, Any]:
    """SB3 in a process of its own: DQN for its whole budget, PPO until it solves."""
    script = str(ROOT / "benchmarks" / "sb3_peer.py")
    cmd = [sys.executable, script, "--algo", algo, "--seed", str(seed)]
    if steps is not None:
        cmd += ["--steps", str(steps)]
    if algo == "ppo":
        cmd.append("--stop-on-solve")
    stdout, wall = _run(cmd, work)
    res = last_json_line(stdout)
    res["process_wall"] = round(wall, 3)
    return res


def median_unsolved_last(values: list[float | None]) -> float | None:
    """Median where an unsolved seed (None) counts as slower than every solved one;
    None when the unsolved are at least half (no finite median)."""
    if not values:
        return None
    done = [v for v in values if v is not None]
    if len(done) * 2 <= len(values):
        return None
    padded = sorted(done) + [float("inf")] * (len(values) - len(done))
    median = statistics.median(padded)
    return None if median == float("inf") else median


def summarise(ours: list[dict[str, Any]], sb3: list[dict[str, Any]],
              ppo: list[dict[str, Any]]) -> dict[str, Any]:
    paired = {r["seed"] for r in sb3}
    ours_paired = [r for r in ours if r["seed"] in paired]
    med_ours_all = median_unsolved_last([r["solved_at_seconds"] for r in ours])
    med_ours = median_unsolved_last([r["solved_at_seconds"] for r in ours_paired])
    med_sb3 = median_unsolved_last([r["solved_at_seconds"] for r in sb3])
    med_ppo = median_unsolved_last([r["solved_at_seconds"] for r in ppo])
    return {
        "paired_seeds": sorted(paired),
        "ours_solved": sum(r["solved_at_step"] is not None for r in ours),
        "ours_final_solves": sum(r["final_solves"] for r in ours),
        "ours_median_seconds": med_ours_all,
        "ours_median_seconds_paired": med_ours,
        "ours_median_train_seconds": statistics.median(r["train_seconds"] for r in ours)
        if ours else None,
        "ours_median_process_wall": statistics.median(r["process_wall"] for r in ours)
        if ours else None,
        "sb3_median_seconds": med_sb3,
        "ratio": (med_ours / med_sb3) if med_ours and med_sb3 else None,
        "sb3_solved": sum(r["solved_at_step"] is not None for r in sb3),
        "sb3_final_solves": sum(bool(r.get("final_solves")) for r in sb3),
        "sb3_train_seconds_min": min((r["train_seconds"] for r in sb3), default=None),
        "sb3_train_seconds_max": max((r["train_seconds"] for r in sb3), default=None),
        # The headline: ours (all seeds, evaluations included) over SB3 PPO (train-only).
        "ppo_seeds": len(ppo),
        "ppo_median_seconds": med_ppo,
        "ppo_solved": sum(r["solved_at_step"] is not None for r in ppo),
        "ppo_final_solves": sum(bool(r.get("final_solves")) for r in ppo),
        "ratio_ppo": (med_ours_all / med_ppo) if med_ours_all and med_ppo else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds for cartpole")
    parser.add_argument("--sb3-seeds", type=int, default=5,
                        help="seeds for SB3 DQN (paired with ours: 0 .. N-1)")
    parser.add_argument("--ppo-seeds", type=int, default=None,
                        help="seeds for SB3 PPO (0 .. N-1)  [default: --seeds]")
    parser.add_argument("--steps", type=int, default=50_000,
                        help="env-step budget of cartpole and SB3 DQN")
    parser.add_argument("--ppo-steps", type=int, default=None,
                        help="env-step budget of SB3 PPO  [default: the zoo's n_timesteps, "
                             "1e5, over which its linear schedules run]")
    add_run_options(parser)
    args = parser.parse_args()
    ppo_seeds = args.seeds if args.ppo_seeds is None else args.ppo_seeds
    run = Run("solve", "benchmarks.time_to_solve", args,
              {"seeds": args.seeds, "sb3_seeds": args.sb3_seeds, "ppo_seeds": ppo_seeds,
               "steps": args.steps, "ppo_steps": args.ppo_steps,
               "threshold": THRESHOLD, "eval_episodes": 20, "eval_every": 2000,
               "final_episodes": FINAL_EPISODES, "threads_per_run": 1, "targets": TARGETS})
    run.versions.update(installed_versions(PACKAGES))
    ours: list[dict[str, Any]] = run.results.setdefault("cartpole", [])
    sb3: list[dict[str, Any]] = run.results.setdefault("sb3", [])
    ppo: list[dict[str, Any]] = run.results.setdefault("sb3_ppo", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-bench-") as tmp:
        work = Path(tmp)
        for seed in range(max(args.seeds, args.sb3_seeds, ppo_seeds)):
            if seed < args.seeds:
                ours.append(run_ours(seed, args.steps, work))
                print(json.dumps({k: v for k, v in ours[-1].items() if k != "result"}),
                      flush=True)
            if seed < args.sb3_seeds:
                sb3.append(run_sb3("dqn", seed, args.steps, work))
                print(json.dumps({k: v for k, v in sb3[-1].items() if k != "evaluations"}),
                      flush=True)
            if seed < ppo_seeds:
                ppo.append(run_sb3("ppo", seed, args.ppo_steps, work))
                print(json.dumps({k: v for k, v in ppo[-1].items() if k != "evaluations"}),
                      flush=True)
            run.save()
    run.results["summary"] = summarise(ours, sb3, ppo)
    print(json.dumps(run.results["summary"]), flush=True)
    run.finish()


if __name__ == "__main__":
    main()
