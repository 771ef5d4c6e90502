"""One training trial: collect, learn, evaluate, keep the best evaluated weights."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cartpole.agent.policy import NumpyPolicy
from cartpole.agent.replay import ReplayBuffer
from cartpole.config import HParams
from cartpole.envs import DEFAULT_ENV, make_env
from cartpole.evaluate import EvalResult, evaluate
from cartpole.metrics import Recorder

DEFAULT_STEPS = 50_000
EVAL_SEED_OFFSET = 1_000_003  # evaluation envs never share seeds with the training env
MAX_EVAL_ENVS = 32


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines one trial besides its hyperparameters."""

    hparams: HParams = field(default_factory=HParams)
    env_id: str = DEFAULT_ENV
    max_episode_steps: int | None = None
    seed: int = 0
    steps: int | None = None
    episodes: int | None = None
    stop_on_solve: bool = True
    render: bool = False

    @property
    def step_budget(self) -> int | None:
        if self.steps is None and self.episodes is None:
            return DEFAULT_STEPS
        return self.steps

    def eval_seeds(self) -> list[int]:
        base = self.seed + EVAL_SEED_OFFSET
        return [base + i for i in range(self.hparams.eval_episodes)]


@dataclass
class Progress:
    """A snapshot of a running trial, for progress displays."""

    step: int = 0
    episode: int = 0
    recent_score: float | None = None
    epsilon: float = 1.0
    last_eval: float | None = None
    best_eval: float | None = None
    evaluations: int = 0


@dataclass
class TrialOutcome:
    best_score: float | None
    best_std: float | None
    best_step: int | None
    best_weights: list[np.ndarray] | None
    steps: int
    episodes: int
    seconds: float
    solved_at_step: int | None
    solved_at_seconds: float | None
    reward_threshold: float | None
    evaluations: list[dict[str, Any]]

    @property
    def solved(self) -> bool:
        return self.solved_at_step is not None


ProgressFn = Callable[[Progress], None]


def run_trial(
    spec: TrialSpec,
    recorder: Recorder | None = None,
    group: str = "local",
    trial: str = "t000",
    on_progress: ProgressFn | None = None,
) -> TrialOutcome:
    """Train one DQN agent as ``spec`` says and return its best evaluated weights."""
    from cartpole.agent.dqn import DQNLearner  # TensorFlow loads only when training
    from cartpole.runtime import seed_everything

    hp = spec.hparams
    recorder = recorder or Recorder()
    emit = _emitter(recorder, group, trial)
    seed_everything(spec.seed)
    started = time.perf_counter()

    env = make_env(spec.env_id, spec.max_episode_steps, "human" if spec.render else None)
    eval_envs = [make_env(spec.env_id, spec.max_episode_steps)
                 for _ in range(min(hp.eval_episodes, MAX_EVAL_ENVS))]
    threshold = env.spec.reward_threshold if env.spec else None
    obs_dim = int(np.prod(env.observation_space.shape))
    n_actions = int(env.action_space.n)

    learner = DQNLearner(obs_dim, n_actions, hp)
    policy = NumpyPolicy(learner.weights())
    buffer = ReplayBuffer(hp.buffer_size, obs_dim)
    rng = np.random.default_rng(spec.seed)
    eval_seeds = spec.eval_seeds()
    emit("trial_start", hparams=hp.to_dict(), env=spec.env_id, seed=spec.seed)

    progress = Progress(epsilon=hp.epsilon)
    recent: deque[float] = deque(maxlen=20)
    evaluations: list[dict[str, Any]] = []
    best: tuple[float, float, int, list[np.ndarray]] | None = None
    solved_at: tuple[int, float] | None = None
    loss: float | None = None
    epsilon = hp.epsilon
    episode_return, episode_len, episodes = 0.0, 0, 0
    budget = spec.step_budget
    step = 0

    def run_eval() -> EvalResult:
        nonlocal best, solved_at
        result = evaluate(eval_envs, policy.act, eval_seeds)
        elapsed = time.perf_counter() - started
        record = {"step": step, "eval_mean": result.mean, "eval_std": result.std,
                  "seconds": round(elapsed, 3)}
        evaluations.append(record)
        if best is None or result.mean > best[0]:
            best = (result.mean, result.std, step, learner.weights())
        if threshold is not None and solved_at is None and result.mean >= threshold:
            solved_at = (step, elapsed)
        progress.last_eval, progress.best_eval = result.mean, best[0]
        progress.evaluations += 1
        emit("eval", step=step, episode=episodes, eval_mean=result.mean,
             eval_std=result.std, eval_episodes=len(result.returns), best=best[0])
        return result

    obs = _flat(env.reset(seed=spec.seed)[0])
    try:
        while True:
            if budget is not None and step >= budget:
                break
            if spec.episodes is not None and episodes >= spec.episodes:
                break
            step += 1
            if rng.random() < epsilon:
                action = int(rng.integers(n_actions))
            else:
                action = int(policy.q_values(obs).argmax())
            next_obs, reward, terminated, truncated, _ = env.step(action)
            next_obs = _flat(next_obs)
            buffer.add(obs, action, float(reward), next_obs, terminated)
            obs = next_obs
            episode_return += float(reward)
            episode_len += 1
            epsilon = max(hp.epsilon_min, epsilon * hp.epsilon_decay)

            if step >= hp.learning_starts and step % hp.train_freq == 0:
                loss = learner.update(buffer.sample(rng, hp.gradient_steps, hp.batch_size))
                policy.set_weights(learner.weights())

            if terminated or truncated:
                episodes += 1
                recent.append(episode_return)
                emit("episode", episode=episodes, score=episode_return, steps=episode_len,
                     total_steps=step, epsilon=epsilon, loss=loss)
                progress.episode, progress.recent_score = episodes, float(np.mean(recent))
                episode_return, episode_len = 0.0, 0
                obs = _flat(env.reset()[0])

            progress.step, progress.epsilon = step, epsilon
            if step % hp.eval_every == 0:
                run_eval()
                if on_progress:
                    on_progress(progress)
                if spec.stop_on_solve and solved_at is not None:
                    break
            elif on_progress and (terminated or truncated):
                on_progress(progress)
        if not evaluations or evaluations[-1]["step"] != step:
            run_eval()
            if on_progress:
                on_progress(progress)
    finally:
        env.close()
        for e in eval_envs:
            e.close()

    seconds = time.perf_counter() - started
    outcome = TrialOutcome(
        best_score=best[0] if best else None,
        best_std=best[1] if best else None,
        best_step=best[2] if best else None,
        best_weights=best[3] if best else None,
        steps=step,
        episodes=episodes,
        seconds=seconds,
        solved_at_step=solved_at[0] if solved_at else None,
        solved_at_seconds=solved_at[1] if solved_at else None,
        reward_threshold=threshold,
        evaluations=evaluations,
    )
    emit("trial_end", score=outcome.best_score, eval_std=outcome.best_std,
         steps=step, episodes=episodes, seconds=round(seconds, 3),
         solved=outcome.solved, solved_at_step=outcome.solved_at_step)
    return outcome


def _flat(obs: Any) -> np.ndarray:
    return np.asarray(obs, dtype=np.float32).ravel()


def _emitter(recorder: Recorder, group: str, trial: str) -> Callable[..., None]:
    from cartpole.metrics import make_event

    def emit(event: str, **fields: Any) -> None:
        recorder.write(make_event(event, group, trial, **fields))

    return emit
