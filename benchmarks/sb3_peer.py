"""Reference points: stable-baselines3 DQN and PPO on CartPole-v1, one seed, one CPU thread.

Trains SB3's DQN or PPO with the rl-baselines3-zoo CartPole-v1 hyperparameters and measures
how fast it learns, so the `cartpole` package's own DQN can be compared with established
implementations. The script is standalone on purpose: it does not import `cartpole`.

What it measures:

* every ``--eval-every`` env steps (counted over all of PPO's envs), a greedy evaluation over
  ``--eval-episodes`` episodes on separately seeded envs (seeds ``1_000_003 + seed + i``, the
  same episodes as cartpole's benchmark row); an evaluation mean >= 475 means solved;
* ``train_seconds``: wall clock from just before the envs and the model are built to the end of
  learning, minus the time spent in evaluations; ``solved_at_step`` / ``solved_at_seconds``
  for the first solving evaluation (null if never solved);
* a final 100-episode greedy evaluation of the model where learning ended (seeds
  ``2_000_003 + seed + i``): with ``--stop-on-solve`` the model of the first solving
  evaluation, else the model after every step. ``--no-final-eval`` skips it.

``--algo ppo`` follows the zoo's PPO entry: 8 envs side by side (``make_vec_env``, as the zoo
builds them), linear schedules for the learning rate and the clip range over its
``n_timesteps`` (1e5, the ``--steps`` default for PPO: the schedules depend on it).

The result is one JSON object on the last stdout line.

Usage: python benchmarks/sb3_peer.py --algo {dqn,ppo} --seed 0 [--steps N] [--eval-every 2000]
       [--eval-episodes 20] [--stop-on-solve] [--no-final-eval]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import json
import resource
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

ENV_ID = "CartPole-v1"
SOLVED_MEAN = 475.0
EVAL_SEED_BASE = 1_000_003
FINAL_EVAL_SEED_BASE = 2_000_003
FINAL_EVAL_EPISODES = 100

# rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1 (its n_timesteps, 5e4, is the default
# --steps for DQN).
ZOO_DQN: dict[str, Any] = {
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
# rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1: n_envs 8, n_timesteps 1e5, MlpPolicy.
# "lin_X" is the zoo's linear schedule: X times the fraction of the budget still to go.
ZOO_PPO: dict[str, Any] = {
    "n_envs": 8,
    "n_timesteps": 100_000,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_0.001",
    "clip_range": "lin_0.2",
}
ALGOS = {"dqn": (ZOO_DQN, 50_000), "ppo": (ZOO_PPO, 100_000)}


def linear_schedule(initial: float) -> Callable[[float], float]:
    """The zoo's ``lin_X``: ``X * progress_remaining`` (1 at the start, 0 at the end)."""
    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial
    return schedule


def _zoo_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        return linear_schedule(float(value[4:]))
    return value


def build(algo: str, seed: int) -> BaseAlgorithm:
    """The model with its zoo hyperparameters, on the CPU."""
    if algo == "dqn":
        return DQN("MlpPolicy", ENV_ID, seed=seed, device="cpu", verbose=0, **ZOO_DQN)
    kwargs = {k: _zoo_value(v) for k, v in ZOO_PPO.items() if k not in ("n_envs", "n_timesteps")}
    env = make_vec_env(ENV_ID, n_envs=ZOO_PPO["n_envs"], seed=seed)
    return PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)


def greedy_eval(model: BaseAlgorithm, seeds: list[int]) -> float:
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
    """Periodic greedy evaluation whose own time is kept out of the training clock.

    It evaluates once ``num_timesteps`` reaches each multiple of ``eval_every``: every env
    step for DQN, every vector step (8 env steps) for PPO.
    """

    def __init__(self, seed: int, eval_every: int, eval_episodes: int, stop_on_solve: bool) -> None:
        super().__init__()
        self.seeds = [EVAL_SEED_BASE + seed + i for i in range(eval_episodes)]
        self.eval_every = eval_every
        self.next_eval = eval_every
        self.stop_on_solve = stop_on_solve
        self.start = time.perf_counter()
        self.eval_seconds = 0.0
        self.evaluations: list[dict[str, float | int]] = []
        self.solved_at_step: int | None = None
        self.solved_at_seconds: float | None = None

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_eval:
            return True
        self.next_eval = (self.num_timesteps // self.eval_every + 1) * self.eval_every
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


def run(algo: str, seed: int, steps: int, eval_every: int, eval_episodes: int,
        stop_on_solve: bool, final_eval: bool = True) -> dict[str, Any]:
    # The callback starts the clock, so building the envs and the model is included.
    callback = EvalCallback(seed, eval_every, eval_episodes, stop_on_solve)
    model = build(algo, seed)
    model.learn(total_timesteps=steps, callback=callback)
    train_seconds = callback.train_seconds()

    final_eval_mean: float | None = None
    if final_eval:
        seeds = [FINAL_EVAL_SEED_BASE + seed + i for i in range(FINAL_EVAL_EPISODES)]
        final_eval_mean = greedy_eval(model, seeds)

    means = [e["mean"] for e in callback.evaluations]
    return {
        "impl": f"sb3-{algo}",
        "algo": algo,
        "seed": seed,
        "steps": steps,
        "steps_done": int(model.num_timesteps),
        "stop_on_solve": stop_on_solve,
        "train_seconds": train_seconds,
        "eval_seconds": callback.eval_seconds,
        "solved_at_step": callback.solved_at_step,
        "solved_at_seconds": callback.solved_at_seconds,
        "best_eval": max(means) if means else None,
        "evaluations": callback.evaluations,
        "final_eval_mean": final_eval_mean,
        "final_solves": None if final_eval_mean is None else final_eval_mean >= SOLVED_MEAN,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "hyperparams": ALGOS[algo][0],
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
    parser.add_argument("--algo", choices=sorted(ALGOS), default="dqn")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, default=None,
                        help="env-step budget [default: the zoo's n_timesteps: DQN 5e4, PPO 1e5]")
    parser.add_argument("--eval-every", type=int, default=2000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--stop-on-solve", action="store_true")
    parser.add_argument("--no-final-eval", dest="final_eval", action="store_false")
    args = parser.parse_args()
    steps = args.steps if args.steps is not None else ALGOS[args.algo][1]
    result = run(args.algo, args.seed, steps, args.eval_every, args.eval_episodes,
                 args.stop_on_solve, args.final_eval)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
