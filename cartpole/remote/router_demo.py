"""The router demo: reward one branch only, and watch a router graph learn to prefer it.

Every request carries one CartPole observation; the feedback's reward is 1 when the
router sent the request to the preferred branch and 0 otherwise. A bandit router
(epsilon-greedy or Thompson) should end up sending most requests there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cartpole.envs.make import DEFAULT_ENV, make_env
from cartpole.remote.client import Client, Reply
from cartpole.remote.errors import BadAnswer, RemoteError


@dataclass(frozen=True)
class DemoConfig:
    requests: int = 200
    preferred: int = 1
    window: int = 50
    min_share: float = 0.8
    router_name: str | None = None
    env_id: str = DEFAULT_ENV
    seed: int = 0


@dataclass
class Route:
    request: int
    branch: int
    reward: float
    share: float  # share of the last ``window`` requests routed to the preferred branch


@dataclass
class DemoResult:
    router_name: str = ""
    routes: list[Route] = field(default_factory=list)
    error: RemoteError | None = None

    @property
    def share(self) -> float:
        return self.routes[-1].share if self.routes else 0.0

    def per_branch(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for route in self.routes:
            counts[route.branch] = counts.get(route.branch, 0) + 1
        return dict(sorted(counts.items()))


def branch_of(reply: Reply, name: str | None) -> tuple[str, int]:
    """The router's name and the branch it chose, from the answer's ``meta.routing``."""
    routing = reply.routing
    if not routing:
        raise BadAnswer("the answers carry no meta.routing: is the server a router graph?")
    if name is None:
        if len(routing) > 1:
            raise BadAnswer("the graph has several routers (" + ", ".join(sorted(routing))
                            + "): choose one with --router-name")
        name = next(iter(routing))
    if name not in routing:
        raise BadAnswer(f"no router {name!r} in meta.routing (it has: "
                        f"{', '.join(sorted(routing))})")
    return name, int(routing[name])


def router_demo(client: Client, cfg: DemoConfig,
                on_route: Callable[[Route, str], None] | None = None) -> DemoResult:
    """Send ``cfg.requests`` predictions and their feedback; an error ends it early and
    is kept in ``result.error`` with the routes so far."""
    env = make_env(cfg.env_id)
    result = DemoResult()
    recent: deque[int] = deque(maxlen=cfg.window)
    try:
        obs, _ = env.reset(seed=cfg.seed)
        for i in range(1, cfg.requests + 1):
            rows = np.asarray(obs, dtype=np.float64).reshape(1, -1)
            reply = client.predict(rows)
            result.router_name, branch = branch_of(reply, cfg.router_name or
                                                   (result.router_name or None))
            reward = 1.0 if branch == cfg.preferred else 0.0
            client.feedback(rows, reply, reward)
            recent.append(int(branch == cfg.preferred))
            route = Route(i, branch, reward, sum(recent) / len(recent))
            result.routes.append(route)
            if on_route is not None:
                on_route(route, result.router_name)
            obs, _, terminated, truncated, _ = env.step(int(reply.actions[0]))
            if terminated or truncated:
                obs, _ = env.reset(seed=cfg.seed + i)
    except RemoteError as exc:
        result.error = exc
    finally:
        env.close()
        client.close()
    return result
