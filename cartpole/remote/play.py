"""Runners that play episodes locally, asking a remote policy for every action.

Each runner owns an env (a *lane*). Without batching every runner is a thread with
its own client and asks for one action per request. With batching one thread drives
every lane and sends the observations of all running episodes in one request. Either
way an episode counts only once the env itself ends it (terminated, or truncated by
its time limit); an episode stopped by an error or an interrupt is *cut short* and
never scored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cartpole.envs.make import DEFAULT_ENV, make_env
from cartpole.remote.client import Client, Reply
from cartpole.remote.errors import BadAnswer, RemoteError

log = logging.getLogger(__name__)
FEEDBACK = ("episode", "step", "none")
GIF_EVERY = 2  # record every other frame
GIF_MAX_FRAMES = 600


@dataclass(frozen=True)
class PlayConfig:
    episodes: int = 20
    runners: int = 1
    batch: bool = False
    env_id: str = DEFAULT_ENV
    max_episode_steps: int | None = None
    seed: int = 0
    feedback: str = "episode"
    record_dir: Path | None = None


@dataclass(frozen=True)
class Episode:
    runner: int
    number: int  # run-wide, in order of completion, from 1
    seed: int
    score: float
    steps: int
    seconds: float
    branch: int | None  # the branch of a router graph that answered most of its steps


class Tally:
    """Shared bookkeeping of every runner, under one lock. ``on_episode`` runs under it
    too, so events reach the metrics engines one at a time."""

    def __init__(self, episodes: int, on_episode: Callable[[Episode], None]) -> None:
        self.budget = episodes
        self.on_episode = on_episode
        self.stop = threading.Event()
        self.started = 0
        self.done: list[Episode] = []
        self.cut_short = 0
        self.steps = 0
        self.requests = 0
        self.latencies: list[float] = []
        self.error: RemoteError | None = None
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The index of the next episode to play, or None when the budget is spent."""
        with self._lock:
            if self.stop.is_set() or self.started >= self.budget:
                return None
            self.started += 1
            return self.started - 1

    def count(self, requests: int, steps: int, latencies: list[float]) -> None:
        """Add a runner's counts (once, when it ends: no lock taken per request)."""
        with self._lock:
            self.requests += requests
            self.steps += steps
            self.latencies.extend(latencies)

    def finish(self, runner: int, seed: int, score: float, steps: int, seconds: float,
               branch: int | None) -> Episode:
        with self._lock:
            episode = Episode(runner, len(self.done) + 1, seed, score, steps, seconds, branch)
            self.done.append(episode)
            self.on_episode(episode)
            return episode

    def cut(self, n: int = 1) -> None:
        with self._lock:
            self.cut_short += n

    def fail(self, exc: RemoteError) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()


class Lane:
    """One runner's env and the state of its current episode."""

    def __init__(self, runner: int, cfg: PlayConfig, record: bool = False) -> None:
        if record:
            from cartpole.envs.gif import quiet_sdl

            quiet_sdl()
        self.runner, self.cfg, self.record = runner, cfg, record
        self.env = make_env(cfg.env_id, cfg.max_episode_steps,
                            render_mode="rgb_array" if record else None)
        self.n_actions = int(self.env.action_space.n)
        limit = self.env.spec.max_episode_steps if self.env.spec else None
        self.limit = cfg.max_episode_steps or limit
        self.active = False
        self.obs = np.zeros(0)

    def start(self, index: int) -> None:
        self.seed = self.cfg.seed + index
        obs, _ = self.env.reset(seed=self.seed)
        self.obs = np.asarray(obs, dtype=np.float64).ravel()
        self.score, self.steps, self.started = 0.0, 0, time.perf_counter()
        self.branches: Counter[int] = Counter()
        self.answers: dict[int, Reply] = {}  # each branch's last answer in this episode
        self.frames: list[Any] = [self._frame()] if self.record else []
        self.active = True

    def step(self, action: int, reply: Reply) -> tuple[float, bool]:
        """Play ``action``; return the step's feedback reward and whether the episode ended."""
        if not 0 <= action < self.n_actions:
            raise BadAnswer(f"the server answered action {action}; the env has "
                            f"{self.n_actions} actions")
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.obs = np.asarray(obs, dtype=np.float64).ravel()
        self.score += float(reward)
        self.steps += 1
        if reply.routing:
            branch = int(next(iter(reply.routing.values())))
            self.branches[branch] += 1
            self.answers[branch] = reply
        if self.record and self.steps % GIF_EVERY == 0 and len(self.frames) < GIF_MAX_FRAMES:
            self.frames.append(self._frame())
        self.active = not (terminated or truncated)
        return (0.0 if terminated else float(reward)), not self.active

    def episode_reward(self) -> float:
        """The reward an episode's feedback carries: its score over the env's step limit,
        a number in [0, 1] for CartPole that a Thompson router can take as a success rate."""
        return self.score / self.limit if self.limit else self.score

    def branch(self) -> int | None:
        """The branch of a router graph that answered most of the episode's steps."""
        return self.branches.most_common(1)[0][0] if self.branches else None

    def feedback_reply(self, last: Reply) -> Reply:
        """The answer an episode's feedback sends back: the last one from the branch that
        played most of the episode, so that the router credits that branch (the very last
        answer may come from another branch, called in after the pole was lost)."""
        branch = self.branch()
        return last if branch is None else self.answers[branch]

    def finish(self, tally: Tally) -> Episode:
        branch = self.branch()
        episode = tally.finish(self.runner, self.seed, self.score, self.steps,
                               time.perf_counter() - self.started, branch)
        if self.record and self.cfg.record_dir is not None:
            from cartpole.envs.gif import save_gif

            save_gif(self.cfg.record_dir / f"episode-{episode.number:04d}.gif", self.frames,
                     GIF_EVERY)
            self.frames = []
        return episode

    def _frame(self) -> Any:
        from cartpole.envs.gif import frame

        return frame(self.env)

    def close(self) -> None:
        self.env.close()


def drive(lanes: list[Lane], client: Client, tally: Tally, feedback: str) -> None:
    """Play episodes on ``lanes`` until the budget is spent or the run stops; every
    request carries the observations of all the lanes' running episodes."""
    latencies: list[float] = []
    steps = 0
    try:
        while True:
            for lane in lanes:
                if not lane.active:
                    index = tally.take()
                    if index is not None:
                        lane.start(index)
            active = [lane for lane in lanes if lane.active]
            if not active:
                return
            if tally.stop.is_set():
                tally.cut(len(active))
                return
            rows = np.stack([lane.obs for lane in active])
            reply = client.predict(rows)
            latencies.append(reply.seconds)
            steps += len(active)
            rewards = []
            for lane, action in zip(active, reply.actions.tolist(), strict=True):
                reward, ended = lane.step(int(action), reply)
                rewards.append(reward)
                if ended:
                    lane.finish(tally)
                    if feedback == "episode":
                        client.feedback(lane.obs[None, :], lane.feedback_reply(reply),
                                        lane.episode_reward())
            if feedback == "step":
                client.feedback(rows, reply, float(np.mean(rewards)))
    except RemoteError as exc:
        tally.cut(sum(lane.active for lane in lanes))
        tally.fail(exc)
    except Exception as exc:
        log.debug("runner %d failed", lanes[0].runner, exc_info=True)
        tally.cut(sum(lane.active for lane in lanes))
        tally.fail(RemoteError(f"runner {lanes[0].runner} stopped: "
                               f"{type(exc).__name__}: {exc}"))
    finally:
        tally.count(len(latencies), steps, latencies)
        client.close()


def probe(client: Client, cfg: PlayConfig, rows: int) -> bool:
    """Ask once with ``rows`` observations; False when the server takes only one at a time.

    Connection and auth errors propagate: there is no point starting the runners.
    """
    from cartpole.remote.errors import ServerError

    lane = Lane(0, cfg)
    try:
        obs = []
        for i in range(rows):
            lane.start(i)
            obs.append(lane.obs)
        client.predict(np.stack(obs))
        return True
    except (ServerError, BadAnswer):
        if rows == 1:
            raise
        return False
    finally:
        lane.close()


def play(cfg: PlayConfig, make_client: Callable[[], Client], tally: Tally) -> None:
    """Run the runners to the end (or until ``tally.stop``); errors land in ``tally``.

    A KeyboardInterrupt stops every runner, waits for them, and propagates.
    """
    lanes = [Lane(r, cfg, record=cfg.record_dir is not None and r == 0)
             for r in range(cfg.runners)]
    groups = [lanes] if cfg.batch else [[lane] for lane in lanes]
    finished = [threading.Event() for _ in groups]

    def runner(group: list[Lane], client: Client, done: threading.Event) -> None:
        try:
            drive(group, client, tally, cfg.feedback)
        finally:
            done.set()

    try:
        for i, group in enumerate(groups):
            threading.Thread(target=runner, args=(group, make_client(), finished[i]),
                             name=f"runner-{i}", daemon=True).start()
        _wait(finished)
    finally:
        tally.stop.set()
        _wait(finished)  # events, not Thread.join: an interrupted join can return early
        for lane in lanes:
            lane.close()


def _wait(events: list[threading.Event]) -> None:
    # Short timeouts keep the main thread able to take Ctrl-C.
    for event in events:
        while not event.wait(0.2):
            pass
