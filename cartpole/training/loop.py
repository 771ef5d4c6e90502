"""One training trial: collect, learn, evaluate, keep the best evaluated weights."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cartpole.agent.dqn import DQNLearner
from cartpole.agent.policy import NumpyPolicy
from cartpole.agent.replay import ReplayBuffer
from cartpole.envs.make import DEFAULT_ENV, make_env
from cartpole.hparams import HParams
from cartpole.metrics import Recorder
from cartpole.training.evaluate import Evaluator
from cartpole.training.phases import PhaseClock, process_age
from cartpole.training.runtime import seed_everything
from cartpole.training.selection import Selector
from cartpole.training.stopping import stop_requests

# A trial stops once it solves, so the budget costs only the trials that do not. At
# 50,000 seed 0 solved or not depending on the CPU's BLAS kernels (its learning curve
# diverges with the rounding); at 100,000 it solves under each of them
# (tests/training/test_portable.py).
DEFAULT_STEPS = 100_000
EVAL_SEED_OFFSET = 1_000_003  # evaluation envs never share seeds with the training env
CONFIRM_SEED_OFFSET = 3_000_017


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
    confirm_episodes: int = 80
    reward_threshold: float | None = None
    render: bool = False

    @property
    def step_budget(self) -> int | None:
        if self.steps is None and self.episodes is None:
            return DEFAULT_STEPS
        return self.steps

    def eval_seeds(self) -> list[int]:
        base = self.seed + EVAL_SEED_OFFSET
        return [base + i for i in range(self.hparams.eval_episodes)]

    def confirm_seeds(self) -> list[int]:
        base = self.seed + CONFIRM_SEED_OFFSET
        return [base + i for i in range(self.confirm_episodes)]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hparams"] = self.hparams.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSpec:
        return cls(**{**data, "hparams": HParams.from_dict(data["hparams"])})


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
    confirmed_score: float | None
    best_weights: list[np.ndarray] | None
    steps: int
    episodes: int
    seconds: float
    solved_at_step: int | None
    solved_at_seconds: float | None
    reward_threshold: float | None
    evaluations: list[dict[str, Any]]
    interrupted: bool = False
    pruned: bool = False  # stopped early by the search's pruner
    phases: dict[str, float | None] = field(default_factory=dict)  # see phases.py

    @property
    def solved(self) -> bool:
        return self.solved_at_step is not None


ProgressFn = Callable[[Progress], None]


class PruneFn(Protocol):
    """Told each greedy evaluation (env step, value); True stops the trial early as
    pruned (``grid/study.py`` asks the search's pruner). ``decide=False``: only record
    the value (a solved trial's score at the end of its budget), ask nothing."""

    def __call__(self, step: int, value: float, decide: bool = True) -> bool: ...


def run_trial(
    spec: TrialSpec,
    recorder: Recorder | None = None,
    group: str = "local",
    trial: str = "t000",
    on_progress: ProgressFn | None = None,
    prune: PruneFn | None = None,
) -> TrialOutcome:
    """Train one DQN agent as ``spec`` says and return its best evaluated weights.

    ``prune``, when given, hears every evaluation and may stop the trial early."""
    hp = spec.hparams
    emit = _emitter(recorder or Recorder(), group, trial)
    notify = on_progress or (lambda p: None)
    clock = PhaseClock()
    startup = process_age()
    seed_everything(spec.seed)
    started = time.perf_counter()

    with clock.timing("env"):
        env = make_env(spec.env_id, spec.max_episode_steps,
                       "human" if spec.render else None)
        evaluator = Evaluator(spec.env_id, spec.max_episode_steps,
                              max(hp.eval_episodes, spec.confirm_episodes))
    threshold = spec.reward_threshold
    if threshold is None and env.spec:
        threshold = env.spec.reward_threshold
    obs_dim = int(np.prod(env.observation_space.shape))
    n_actions = int(env.action_space.n)

    with clock.timing("build"):
        learner = DQNLearner(obs_dim, n_actions, hp, seed=spec.seed)
        policy = NumpyPolicy(learner.weights())
        buffer = ReplayBuffer(hp.buffer_size, obs_dim)
    rng = np.random.default_rng(spec.seed)
    selector = Selector(evaluator, spec.eval_seeds(), spec.confirm_seeds(), threshold,
                        started)
    emit("trial_start", hparams=hp.to_dict(), env=spec.env_id, seed=spec.seed)

    progress = Progress(epsilon=hp.epsilon)
    recent: deque[float] = deque(maxlen=20)
    loss: float | None = None
    epsilon = hp.epsilon
    episode_return, episode_len = 0.0, 0
    budget = spec.step_budget
    step = 0

    def run_eval() -> None:
        record = selector.evaluate(step, policy.act, learner.weights, spec.stop_on_solve)
        progress.last_eval, progress.best_eval = record["eval_mean"], record["best"]
        progress.evaluations += 1
        emit("eval", episode=progress.episode, **{k: v for k, v in record.items()
                                                  if k != "seconds"},
             eval_episodes=hp.eval_episodes)
        notify(progress)
        # Reported: the trial's score so far (its best evaluation, the model it keeps), so
        # that a dip in DQN's noisy learning curve does not get it stopped.
        so_far = record["best"] if record.get("best") is not None else record["eval_mean"]
        if prune is not None and reported(step, so_far):  # every evaluation is reported
            last = budget is not None and step >= budget  # nothing left to save by stopping
            pruned[0] = not (last or selector.confirmed)

    def stand_at_end() -> None:
        # A trial that stops because it solved keeps its score to the end of its budget:
        # reported there, it counts at the pruner's later rungs, so that trials still
        # learning are compared with it and not only with each other.
        if prune is not None and budget is not None and step < budget and selector.best:
            reported(budget, selector.best.score, decide=False)

    def reported(at: int, value: float, decide: bool = True) -> bool:
        assert prune is not None
        with clock.timing("pruning"):  # the study's answer (it may wait for peers)
            return prune(at, value) if decide else prune(at, value, decide=False)

    pruned = [False]
    obs = _flat(env.reset(seed=spec.seed)[0])
    interrupted = False
    loop_started = time.perf_counter()
    try:
        with stop_requests() as stop:
            while not ((budget is not None and step >= budget)
                       or (spec.episodes is not None and progress.episode >= spec.episodes)):
                if stop.is_set():
                    interrupted = True
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
                progress.step, progress.epsilon = step, epsilon

                if step >= hp.learning_starts and step % hp.train_freq == 0:
                    with clock.timing("learning"):
                        loss = learner.update(buffer.sample(rng, hp.gradient_steps,
                                                            hp.batch_size))
                        policy.set_weights(learner.weights())

                if terminated or truncated:
                    progress.episode += 1
                    recent.append(episode_return)
                    progress.recent_score = float(np.mean(recent))
                    emit("episode", episode=progress.episode, score=episode_return,
                         steps=episode_len, total_steps=step, epsilon=epsilon, loss=loss)
                    episode_return, episode_len = 0.0, 0
                    obs = _flat(env.reset()[0])
                    notify(progress)

                if step % hp.eval_every == 0:
                    run_eval()
                    if spec.stop_on_solve and selector.confirmed:
                        stand_at_end()
                        break
                    if pruned[0]:
                        break
            if not interrupted and not pruned[0] and (not selector.history
                                    or selector.history[-1]["step"] != step):
                run_eval()
    except KeyboardInterrupt:
        interrupted = True  # keep what was learnt so far: the best snapshot is saved
    finally:
        loop_seconds = time.perf_counter() - loop_started
        env.close()
        evaluator.close()

    clock.add("evaluation", selector.seconds["evaluation"])
    clock.add("confirmation", selector.seconds["confirmation"])
    clock.add("acting", loop_seconds - sum(clock.seconds.get(p, 0.0) for p in
                                           ("learning", "evaluation", "confirmation",
                                            "pruning")))

    best = selector.best
    solved_at = selector.solved_at
    outcome = TrialOutcome(
        best_score=best.score if best else None,
        best_std=best.std if best else None,
        best_step=best.step if best else None,
        confirmed_score=best.confirmed_score if best else None,
        best_weights=best.weights if best else None,
        steps=step,
        episodes=progress.episode,
        seconds=time.perf_counter() - started,
        solved_at_step=solved_at[0] if solved_at else None,
        solved_at_seconds=solved_at[1] if solved_at else None,
        reward_threshold=threshold,
        evaluations=selector.history,
        interrupted=interrupted,
        pruned=pruned[0],
        phases={"startup": round(startup, 3) if startup is not None else None,
                **clock.rounded()},
    )
    emit("trial_end", score=outcome.best_score, eval_std=outcome.best_std,
         steps=step, episodes=outcome.episodes, seconds=round(outcome.seconds, 3),
         solved=outcome.solved, solved_at_step=outcome.solved_at_step,
         interrupted=interrupted, pruned=pruned[0])
    return outcome


def _flat(obs: Any) -> np.ndarray:
    return np.asarray(obs, dtype=np.float32).ravel()


def _emitter(recorder: Recorder, group: str, trial: str) -> Callable[..., None]:
    from cartpole.metrics import make_event

    def emit(event: str, **fields: Any) -> None:
        recorder.write(make_event(event, group, trial, **fields))

    return emit
