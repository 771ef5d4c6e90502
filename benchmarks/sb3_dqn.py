"""Reference point: stable-baselines3 DQN on CartPole-v1, one seed, one CPU thread.

Trains SB3's DQN with the rl-baselines3-zoo CartPole-v1 hyperparameters and measures how fast it
learns, so the `cartpole` package's own DQN can be compared with an established implementation.
The script is standalone on purpose: it does not import `cartpole`.

What it measures:

* every ``--eval-every`` env steps, a greedy evaluation over ``--eval-episodes`` episodes on
  separately seeded envs (seeds ``1_000_003 + seed + i``); an evaluation mean >= 475 means solved;
* ``train_seconds``: wall clock from just before the model is built to the end of learning, minus
  the time spent in evaluations; ``solved_at_step`` / ``solved_at_seconds`` for the first solving
  evaluation (null if never solved);
* without ``--stop-on-solve``, a final 100-episode greedy evaluation of the final model (seeds
  ``2_000_003 + seed + i``) gives ``final_eval_mean`` and ``final_solves``.

The result is one JSON object on the last stdout line.

Usage: python benchmarks/sb3_dqn.py --seed 0 [--steps 50000] [--eval-every 2000]
       [--eval-episodes 20] [--stop-on-solve]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import json
import time
from typing import Any

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

ENV_ID = "CartPole-v1"
SOLVED_MEAN = 475.0
EVAL_SEED_BASE = 1_000_003
FINAL_EVAL_SEED_BASE = 2_000_003
FINAL_EVAL_EPISODES = 100

# rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1 (n_timesteps 5e4 is the --steps default).
ZOO_HYPERPARAMS: dict[str, Any] = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}


def greedy_eval(model: DQN, seeds: list[int]) -> float:
    """Mean return of greedy episodes, one per seed, run side by side in one batch."""
    envs = [gym.make(ENV_ID) for _ in seeds]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)])
    returns = np.zeros(len(envs))
    active = np.ones(len(envs), dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        actions, _ = model.predict(obs[idx], deterministic=True)
        for i, action in zip(idx, actions, strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += float(reward)
            if terminated or truncated:
                active[i] = False
    for env in envs:
        env.close()
    return float(returns.mean())


class EvalCallback(BaseCallback):
    """Periodic greedy evaluation whose own time is kept out of the training clock."""

    def __init__(self, seed: int, eval_every: int, eval_episodes: int, stop_on_solve: bool) -> None:
        super().__init__()
        self.seeds = [EVAL_SEED_BASE + seed + i for i in range(eval_episodes)]
        self.eval_every = eval_every
        self.stop_on_solve = stop_on_solve
        self.start = time.perf_counter()
        self.eval_seconds = 0.0
        self.evaluations: list[dict[str, float | int]] = []
        self.solved_at_step: int | None = None
        self.solved_at_seconds: float | None = None

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def _on_step(self) -> bool:
        if self.num_timesteps % self.eval_every != 0:
            return True
        t0 = time.perf_counter()
        mean = greedy_eval(self.model, self.seeds)
        self.eval_seconds += time.perf_counter() - t0
        seconds = self.train_seconds()
        self.evaluations.append({"step": self.num_timesteps, "mean": mean, "seconds": seconds})
        if mean >= SOLVED_MEAN and self.solved_at_step is None:
            self.solved_at_step = self.num_timesteps
            self.solved_at_seconds = seconds
            return not self.stop_on_solve
        return True


def run(seed: int, steps: int, eval_every: int, eval_episodes: int, stop_on_solve: bool) -> dict:
    # The callback starts the clock, so building the model is included in train_seconds.
    callback = EvalCallback(seed, eval_every, eval_episodes, stop_on_solve)
    model = DQN("MlpPolicy", ENV_ID, seed=seed, device="cpu", verbose=0, **ZOO_HYPERPARAMS)
    model.learn(total_timesteps=steps, callback=callback)
    train_seconds = callback.train_seconds()

    final_eval_mean: float | None = None
    if not stop_on_solve:
        seeds = [FINAL_EVAL_SEED_BASE + seed + i for i in range(FINAL_EVAL_EPISODES)]
        final_eval_mean = greedy_eval(model, seeds)

    means = [e["mean"] for e in callback.evaluations]
    return {
        "impl": "sb3-dqn",
        "seed": seed,
        "steps_done": int(model.num_timesteps),
        "train_seconds": train_seconds,
        "solved_at_step": callback.solved_at_step,
        "solved_at_seconds": callback.solved_at_seconds,
        "best_eval": max(means) if means else None,
        "evaluations": callback.evaluations,
        "final_eval_mean": final_eval_mean,
        "final_solves": None if final_eval_mean is None else final_eval_mean >= SOLVED_MEAN,
        "hyperparams": ZOO_HYPERPARAMS,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "versions": {
            "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__,
            "gymnasium": gym.__version__,
        },
    }


def main() -> None:
    # Before torch does any work: one intra-op and one inter-op thread.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=2000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--stop-on-solve", action="store_true")
    args = parser.parse_args()
    result = run(args.seed, args.steps, args.eval_every, args.eval_episodes, args.stop_on_solve)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
