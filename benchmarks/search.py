"""Pruned against full grid search: the same 16-combination grid with and without ASHA.

For each grid seed (``--seed 0``, ``1``, ``2``) the same grid runs twice through the real
command line, back to back, both on ``--workers 2 --threads 1`` and with stop-on-solve
left on (the default): once in full (``--prune none``) and once pruned (``--prune asha``:
Optuna's successive halving, its first rung waiting for peers, stops the trials whose
greedy evaluations lag; they end ``pruned``). The order alternates from seed to seed (full
first on even seeds, pruned first on odd ones), so neither always runs first. Each
command runs in an empty folder of its own and publishes its best model there (``-f``).
Before each seed's pair the benchmark waits for the 1-minute load to settle
(``--max-load``, at most ``--max-wait`` seconds), the previous pair's own load included;
the pair's two runs then follow each other at once.

The figures, per seed and over all seeds:

- the wall clock of each command, the whole process from its start to its exit, and
  ``wall(pruned) / wall(full)``; the target is at most 0.40;
- the number of pruned trials;
- the best model of each run, evaluated here on 100 greedy episodes it was never judged
  on (seeds ``2_000_003 + 1000 * seed + i``, the same for both runs of a seed), and
  ``score(pruned) / score(full)``; the target is at least 0.98 (within 2%).

Everything is kept raw: each command's argv, wall clock, exit code and every trial's
status, score, steps and seconds. ``--quick`` runs a smaller grid on a smaller budget
(a check of the benchmark itself; its file goes to the temp folder unless ``--json``
says otherwise). Writes benchmarks/results/search.json.
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

from benchmarks.harness import Run, add_run_options, installed_versions, wait_for_quiet

# 2 x 2 x 2 x 2 = 16 combinations; with the default budget of 50,000 env steps, 15 of the
# 16 solve CartPole-v1 in a full run of seed 0 (checked while writing this benchmark).
GRID = ["--gamma", "0.98", "0.99", "--learning-rate", "1e-3", "2.3e-3",
        "--batch-size", "32", "64", "--hidden-sizes", "64,64", "128,128"]
STEPS = 50_000
# --quick: 8 combinations on a smaller budget, to check the benchmark itself.
QUICK_GRID = ["--gamma", "0.98", "0.99", "--learning-rate", "1e-3", "2.3e-3",
              "--batch-size", "32", "64"]
QUICK_STEPS = 20_000
MODES = {"full": "none", "pruned": "asha"}  # run name -> --prune
WORKERS, THREADS = 2, 1
EVAL_EPISODES = 100
EVAL_SEED_BASE = 2_000_003  # training evaluates on seed + 1_000_003 + i, confirms on 3_000_017 + i
ENV_ID = "CartPole-v1"
PACKAGES = ("cartpole", "numpy", "gymnasium", "optuna", "sqlalchemy", "h5py")
# The search issue's targets: wall(pruned) / wall(full), and score(pruned) / score(full).
TARGETS = {"wall_ratio": 0.40, "score_ratio": 0.98}


def eval_seeds(seed: int) -> list[int]:
    return [EVAL_SEED_BASE + 1000 * seed + i for i in range(EVAL_EPISODES)]


def order(seed: int) -> list[str]:
    """Which run of a seed goes first: full on even seeds, pruned on odd ones."""
    return ["full", "pruned"] if seed % 2 == 0 else ["pruned", "full"]


def run_search(mode: str, seed: int, grid: list[str], steps: int, work: Path) -> dict[str, Any]:
    """One ``cartpole train`` of the grid, in an empty folder, its model published there."""
    folder = work / f"s{seed}-{mode}"
    folder.mkdir()
    args = ["train", *grid, "--steps", str(steps), "--seed", str(seed),
            "--prune", MODES[mode], "--workers", str(WORKERS), "--threads", str(THREADS),
            "-f", "best"]
    argv = [str(Path(sys.executable).with_name("cartpole")), *args]
    load = round(os.getloadavg()[0], 2)  # other work on the machine, if any
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    out: dict[str, Any] = {
        "mode": mode, "prune": MODES[mode], "seed": seed, "argv": argv,
        "command": "cartpole " + " ".join(args), "wall": round(wall, 3),
        "exit_code": proc.returncode, "load_1min": load,
    }
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        out["error"] = "no JSON result line on stdout"
        out["stderr_tail"] = proc.stderr[-3000:]
        return out
    if proc.returncode != 0:
        out["stderr_tail"] = proc.stderr[-3000:]
    trials = [trial_record(folder, t, grid) for t in result.get("trials", [])]
    model = result.get("model")
    out.update({
        "group": result.get("group"), "state": result.get("state"),
        "model": os.path.relpath(folder / model, folder) if model else None,
        "best_trial": result.get("trial"), "best_training_score": result.get("score"),
        "best_hparams": varying(result.get("hparams") or {}, grid),
        "trials": trials,
        "statuses": {s: sum(t["status"] == s for t in trials)
                     for s in sorted({t["status"] for t in trials})},
        "pruned_trials": sum(t["status"] == "pruned" for t in trials),
        "solved_trials": sum(t.get("solved_at_step") is not None for t in trials),
        "train_seconds_sum": round(sum(t["seconds"] or 0 for t in trials), 3),
        "trial_steps_sum": sum(t["steps"] or 0 for t in trials),
        "startup_seconds_sum": round(sum(t["startup"] or 0 for t in trials), 3),
        "pruning_seconds_sum": round(sum(t["pruning"] or 0 for t in trials), 3),
    })
    if model and (folder / model).exists():
        out["eval"] = evaluate(folder / model, seed)
    else:
        out["eval"] = None
        out["error"] = f"no published model at {model!r}"
    return out


def varying(hparams: dict[str, Any], grid: list[str]) -> dict[str, Any]:
    """The hyperparameters the grid varies, from a trial's full set."""
    names = [a[2:].replace("-", "_") for a in grid if a.startswith("--")]
    return {n: hparams[n] for n in names if n in hparams}


def trial_record(folder: Path, trial: dict[str, Any], grid: list[str]) -> dict[str, Any]:
    """A trial as the command's JSON gives it, with its start-up and its time reporting to
    the study (waits for peers included) from its result.json."""
    phases: dict[str, Any] = {}
    try:
        record = json.loads((folder / trial["dir"] / "result.json").read_text())
        phases = record.get("phases") or {}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    keys = ("trial", "status", "score", "steps", "seconds", "episodes", "solved_at_step",
            "seed", "peak_rss_mb")
    return {**{k: trial.get(k) for k in keys}, "startup": phases.get("startup"),
            "pruning": phases.get("pruning"),
            "hparams": varying(trial.get("hparams") or {}, grid)}


def evaluate(h5: Path, seed: int) -> dict[str, Any]:
    """The published model's greedy returns on ``EVAL_EPISODES`` separately seeded episodes,
    through the project's evaluator (one episode per seed, exactly as single envs)."""
    import numpy as np

    from cartpole.agent.h5 import load_policy
    from cartpole.training.evaluate import Evaluator

    policy = load_policy(h5)
    evaluator = Evaluator(ENV_ID)
    try:
        result = evaluator.run(policy.act, eval_seeds(seed))
    finally:
        evaluator.close()
    returns = np.asarray(result.returns)
    return {"episodes": len(returns), "mean": round(float(returns.mean()), 3),
            "std": round(float(returns.std()), 3), "min": float(returns.min()),
            "returns": [float(r) for r in returns]}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def seed_figures(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    full, pruned = runs.get("full") or {}, runs.get("pruned") or {}

    def score(run: dict[str, Any]) -> float | None:
        return (run.get("eval") or {}).get("mean")

    return {"wall_ratio": ratio(pruned.get("wall"), full.get("wall")),
            "score_ratio": ratio(score(pruned), score(full)),
            "pruned_trials": pruned.get("pruned_trials"),
            "full_score": score(full), "pruned_score": score(pruned)}


def summarise(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Over all seeds: ratios of the summed walls and of the mean scores, and per-seed
    extremes; None where a run has no figure."""
    done = [s for s in seeds if s["wall_ratio"] is not None]
    scored = [s for s in seeds if s["score_ratio"] is not None]
    full_wall = sum(s["runs"]["full"]["wall"] for s in done)
    pruned_wall = sum(s["runs"]["pruned"]["wall"] for s in done)
    full_score = statistics.fmean(s["full_score"] for s in scored) if scored else None
    pruned_score = statistics.fmean(s["pruned_score"] for s in scored) if scored else None
    return {
        "seeds": len(seeds), "seeds_with_both": len(done),
        "full_wall_sum": round(full_wall, 3), "pruned_wall_sum": round(pruned_wall, 3),
        "wall_ratio": ratio(pruned_wall, full_wall) if done else None,
        "wall_ratio_max": max((s["wall_ratio"] for s in done), default=None),
        "wall_ratio_median": (round(statistics.median(s["wall_ratio"] for s in done), 4)
                              if done else None),
        "full_score_mean": round(full_score, 3) if full_score is not None else None,
        "pruned_score_mean": round(pruned_score, 3) if pruned_score is not None else None,
        "score_ratio": ratio(pruned_score, full_score),
        "score_ratio_min": min((s["score_ratio"] for s in scored), default=None),
        "pruned_trials": sum(s["pruned_trials"] or 0 for s in seeds),
        "trials": sum(len(s["runs"]["pruned"].get("trials", [])) for s in seeds
                      if "pruned" in s["runs"]),
        "all_exit_zero": all(r["exit_code"] == 0 for s in seeds for r in s["runs"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3,
                        help="grid seeds: --seed 0 .. N-1, each a full and a pruned run")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smaller grid ({' '.join(QUICK_GRID)}) on --steps "
                             f"{QUICK_STEPS}, to check the benchmark itself; its file goes "
                             "to the temp folder unless --json says otherwise")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"env steps of each trial [default: {STEPS}, {QUICK_STEPS} "
                             "with --quick]")
    parser.add_argument("--grid", default=None,
                        help="the grid's hyperparameter options [default: "
                             f"{' '.join(GRID)}]")
    add_run_options(parser)
    args = parser.parse_args()
    grid = (args.grid.split() if args.grid else QUICK_GRID if args.quick else GRID)
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    if args.quick and args.json is None:
        args.json = Path(tempfile.gettempdir()) / "cartpole-search-quick.json"
    run = Run("search", "benchmarks.search", args, {
        "grid": " ".join(grid), "steps": steps, "seeds": list(range(args.seeds)),
        "quick": args.quick, "workers": WORKERS, "threads_per_trial": THREADS,
        "modes": MODES, "stop_on_solve": True, "env": ENV_ID,
        "order": "full first on even seeds, pruned first on odd ones",
        "eval_episodes": EVAL_EPISODES,
        "eval_seeds": f"{EVAL_SEED_BASE} + 1000 * seed + i, i < {EVAL_EPISODES}",
        "max_load": args.max_load, "max_wait": args.max_wait, "targets": TARGETS})
    run.versions.update(installed_versions(PACKAGES))
    seeds: list[dict[str, Any]] = run.results.setdefault("seeds", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-search-bench-") as tmp:
        for seed in range(args.seeds):
            # A quiet machine before each pair (the previous pair's own load included;
            # Run has just waited before the first), then its two runs back to back.
            waited = wait_for_quiet(args.max_load, args.max_wait) if seeds else 0.0
            entry: dict[str, Any] = {"seed": seed, "order": order(seed), "runs": {},
                                     "waited_seconds": waited}
            seeds.append(entry)
            for mode in entry["order"]:
                one = run_search(mode, seed, grid, steps, Path(tmp))
                entry["runs"][mode] = one
                print(json.dumps({k: one.get(k) for k in (
                    "seed", "mode", "wall", "exit_code", "pruned_trials", "solved_trials",
                    "best_trial", "best_training_score")}
                    | {"eval_mean": (one.get("eval") or {}).get("mean")}), flush=True)
                run.save()
            entry.update(seed_figures(entry["runs"]))
            print(json.dumps({k: entry[k] for k in ("seed", "wall_ratio", "score_ratio",
                                                     "pruned_trials")}), flush=True)
            run.results["summary"] = summarise(seeds)
            run.save()
    run.results["summary"] = summarise(seeds)
    print(json.dumps(run.results["summary"]), flush=True)
    run.finish()
    if not run.results["summary"]["all_exit_zero"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
