"""Time-to-solve CartPole-v1: `cartpole train` against stable-baselines3 DQN.

Each seed of each side runs in a fresh process on one thread, the two sides
interleaved (ours seed 0, SB3 seed 0, ours seed 1, ...) so that both see the same
machine state. Time-to-solve is the first wall-clock second at which a 20-episode
greedy evaluation has a mean of at least 475:

- ours: from the start of training, our own evaluations included;
- SB3: from the start of training, its evaluation callback excluded.

Our saved .h5 is then re-evaluated on 100 greedy episodes it was never judged on.
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

from benchmarks.report import machine_line, write_section

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 475.0
FINAL_EPISODES = 100
PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "stable-baselines3", "torch", "gymnasium")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run_json(cmd: list[str], cwd: Path) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **ONE_THREAD}, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def run_ours(seed: int, steps: int, work: Path) -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("cartpole"))
    res, wall = _run_json([exe, "train", "--seed", str(seed), "--steps", str(steps),
                           "--threads", "1", "--runs-dir", "runs", "-f", f"models/s{seed}",
                           "--group", f"bench-s{seed}"], work)
    trial = res["trials"][0]
    final = final_eval(work / res["model"], seed)
    return {"impl": "cartpole", "seed": seed, "solved_at_step": trial["solved_at_step"],
            "solved_at_seconds": trial.get("solved_at_seconds") or _solved_seconds(work, res),
            "train_seconds": trial["seconds"], "best_eval": trial["score"],
            "final_eval_mean": final, "final_solves": final >= THRESHOLD, "process_wall": wall}


def _solved_seconds(work: Path, res: dict[str, Any]) -> float | None:
    record = json.loads((work / res["trials"][0]["dir"] / "result.json").read_text())
    return record.get("solved_at_seconds")


def final_eval(h5: Path, seed: int) -> float:
    """100 greedy episodes of the saved model, numpy forward pass, unseen seeds."""
    from cartpole.agent.h5weights import load_policy
    from cartpole.envs import make_env
    from cartpole.evaluate import evaluate

    policy = load_policy(h5)
    envs = [make_env() for _ in range(25)]
    seeds = [2_000_003 + seed + i for i in range(FINAL_EPISODES)]
    return evaluate(envs, policy.act, seeds).mean


def run_sb3(seed: int, steps: int, work: Path) -> dict[str, Any]:
    script = str(ROOT / "benchmarks" / "sb3_dqn.py")
    res, wall = _run_json([sys.executable, script, "--seed", str(seed), "--steps", str(steps)],
                          work)
    res["process_wall"] = wall
    return res


def _median(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    if len(done) * 2 <= len(values):
        return None  # an unsolved majority has no finite median
    # Unsolved seeds count as slower than every solved one.
    padded = sorted(done) + [float("inf")] * (len(values) - len(done))
    return statistics.median(padded)


def _fmt(v: float | None, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def summarise(ours: list[dict[str, Any]], sb3: list[dict[str, Any]]) -> dict[str, Any]:
    paired = {r["seed"] for r in sb3}
    ours_paired = [r for r in ours if r["seed"] in paired]
    med_ours = _median([r["solved_at_seconds"] for r in ours_paired])
    med_sb3 = _median([r["solved_at_seconds"] for r in sb3])
    return {
        "ours_solved": sum(r["solved_at_step"] is not None for r in ours),
        "ours_final_solves": sum(r["final_solves"] for r in ours),
        "ours_median_seconds": _median([r["solved_at_seconds"] for r in ours]),
        "ours_median_seconds_paired": med_ours,
        "sb3_median_seconds": med_sb3,
        "ratio": (med_ours / med_sb3) if med_ours and med_sb3 else None,
        "sb3_solved": sum(r["solved_at_step"] is not None for r in sb3),
        "sb3_final_solves": sum(bool(r.get("final_solves")) for r in sb3),
    }


def markdown(ours: list[dict[str, Any]], sb3: list[dict[str, Any]], summary: dict[str, Any],
             command: str) -> str:
    rows = ["| side | seed | solved at step | time to solve (s) | training time (s) "
            "| best 20-ep eval | 100-ep eval of the final model |",
            "|---|---|---|---|---|---|---|"]
    for r in sorted(ours + sb3, key=lambda r: (r["seed"], r["impl"])):
        rows.append(
            f"| {r['impl']} | {r['seed']} | {_fmt(r['solved_at_step'], 'd')} "
            f"| {_fmt(r['solved_at_seconds'], '.2f')} | {_fmt(r['train_seconds'], '.1f')} "
            f"| {_fmt(r['best_eval'])} | {_fmt(r.get('final_eval_mean'))} |")
    s = summary
    n_ours, n_sb3 = len(ours), len(sb3)
    lines = [
        machine_line(PACKAGES) + " One thread per run.",
        "",
        "| figure | cartpole DQN | stable-baselines3 DQN (zoo config) |",
        "|---|---|---|",
        f"| seeds solving within 50,000 steps | {s['ours_solved']}/{n_ours} "
        f"| {s['sb3_solved']}/{n_sb3} |",
        f"| median time to solve, paired seeds (s) | {_fmt(s['ours_median_seconds_paired'], '.2f')}"
        f" | {_fmt(s['sb3_median_seconds'], '.2f')} |",
        f"| ratio (ours / SB3) | **{_fmt(s['ratio'], '.2f')}** | 1 |",
        f"| median time to solve, all {n_ours} seeds (s) "
        f"| {_fmt(s['ours_median_seconds'], '.2f')} | |",
        f"| saved model solves a 100-episode evaluation | {s['ours_final_solves']}/{n_ours} "
        f"| {s['sb3_final_solves']}/{n_sb3} (model after 50,000 steps) |",
        "",
        "Per seed:",
        "",
        *rows,
        "",
        f"Reproduce with `{command}`.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds for cartpole")
    parser.add_argument("--sb3-seeds", type=int, default=5, help="seeds for SB3 (paired)")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None, help="markdown file to update")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results"
                        / "time_to_solve.json")
    args = parser.parse_args()

    ours: list[dict[str, Any]] = []
    sb3: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cartpole-bench-") as tmp:
        work = Path(tmp)
        for seed in range(max(args.seeds, args.sb3_seeds)):
            if seed < args.seeds:
                ours.append(run_ours(seed, args.steps, work))
                print(json.dumps(ours[-1]), flush=True)
            if seed < args.sb3_seeds:
                sb3.append(run_sb3(seed, args.steps, work))
                print(json.dumps({k: v for k, v in sb3[-1].items() if k != "evaluations"}),
                      flush=True)
    summary = summarise(ours, sb3)
    print(json.dumps(summary), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"ours": ours, "sb3": sb3, "summary": summary}, indent=2))
    command = f"make bench SEEDS={args.seeds}" if args.sb3_seeds == 5 else " ".join(sys.argv)
    if args.out:
        write_section(args.out, "time-to-solve", markdown(ours, sb3, summary, command))


if __name__ == "__main__":
    main()
