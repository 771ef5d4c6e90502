"""The visdom engine: live curves of every trial of a group, one trace per trial.

Each group gets its own Visdom environment (``cartpole_<group>`` unless ``env`` is
set) with five windows: score per episode, evaluation score, epsilon, loss, and at the
end a bar chart of every trial's best score. Window ids are fixed per group, so a
rerun or ``--resume`` reuses its windows; a trial that runs again replaces its own
traces. The engine runs behind ``Resilient``: if the server is down, events wait and
are replayed once it is up.

A remote run (``cartpole run``, the group is its run id) gets "remote score per episode",
one trace per runner; the router demo gets "router: branch per request" and "router:
share to the preferred branch". These windows are created when their first event
arrives, never by ``open_group``, and their traces are named by each event's ``trial``
(``r00``, ``r01``, ..., ``router``), since one sink serves the whole run.

A server started with ``--enable-login`` (``server.py``) needs ``username`` and
``password``: as settings, or (better, and what a setting given in ``--metrics-config``
becomes before anything is written) ``VISDOM_USERNAME`` and ``VISDOM_PASSWORD``::

    VISDOM_USERNAME=cartpole VISDOM_PASSWORD=... cartpole --metrics-engine visdom train

The client logs in before its first request and again after a server restart
(``api.py``). A refused login is a ``VisdomLoginError``: one warning says so, and the
events wait as they would for a server that is down (events.jsonl has them all).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from cartpole.metrics.base import Engine, EngineContext
from cartpole.metrics.group import GroupInfo
from cartpole.metrics.visdom import PASSWORD_VARIABLE, USERNAME_VARIABLE
from cartpole.metrics.visdom.api import VisdomAPI

# window -> (title, event, x key, y key, x label, y label)
WINDOWS = {
    "score": ("score per episode", "episode", "total_steps", "score", "env steps", "score"),
    "eval": ("evaluation score (greedy)", "eval", "step", "eval_mean", "env steps",
             "mean score"),
    "epsilon": ("exploration epsilon", "episode", "total_steps", "epsilon", "env steps",
                "epsilon"),
    "loss": ("TD loss (mean over the last update)", "episode", "total_steps", "loss",
             "env steps", "Huber loss"),
}
# Remote runs and the router demo, created on first use:
# window -> (title, event, x key, y key, x label, y label, plot mode)
REMOTE_WINDOWS = {
    "remote_score": ("remote score per episode", "run_episode", "episode", "score",
                     "episode (run-wide, in order of completion)", "score", "lines+markers"),
    "router_branch": ("router: branch per request", "route", "request", "branch", "request",
                      "branch", "markers"),
    "router_share": ("router: share to the preferred branch", "route", "request", "share",
                     "request", "share of recent requests", "lines"),
}
SUMMARY = "summary"
# Last x sent per (server, env, window, trace). A batch is several posts; when one
# fails, the sink is rebuilt and the batch retried whole, so the posts that went
# through must not append their points again. Kept at module level to outlive the sink.
_SENT: dict[tuple[str, str, str, str], float] = {}
# (window, trace) -> (xs, ys) of one batch
_Points = dict[tuple[str, str], tuple[list[float], list[float | None]]]


def env_name(group: str, env: str | None) -> str:
    return env or f"cartpole_{group}"


def window_id(group: str, window: str) -> str:
    return f"{group}_{window}"


class VisdomSink(Engine):
    remote = True
    secrets: ClassVar[dict[str, str]] = {"username": USERNAME_VARIABLE,
                                         "password": PASSWORD_VARIABLE}

    def __init__(self, context: EngineContext | None = None, server: str = "http://localhost",
                 port: int = 8097, env: str | None = None, base_url: str = "",
                 labels: dict[str, str] | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        context = context or EngineContext()
        self.group = context.group
        self.env = env_name(context.group, env)
        label = (labels or {}).get(context.trial, "")
        self.trace = f"{context.trial} {label}".strip()
        self._api = VisdomAPI(server, port, base_url, username=username, password=password)
        self._ready: set[str] = set()

    def write(self, event: dict[str, Any]) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        points: _Points = defaultdict(lambda: ([], []))
        for event in events:
            if event["event"] == "trial_start":
                self._send(points)
                points.clear()
                self._reset()
                continue
            for window, (_, kind, x_key, y_key, _, _) in WINDOWS.items():
                if event["event"] == kind and event.get(y_key) is not None:
                    xs, ys = points[window, self.trace]
                    xs.append(event[x_key])
                    ys.append(event[y_key])
            for window, (_, kind, x_key, y_key, *_) in REMOTE_WINDOWS.items():
                if event["event"] == kind and event.get(y_key) is not None:
                    xs, ys = points[window, event["trial"]]
                    xs.append(event[x_key])
                    ys.append(event[y_key])
        self._send(points)

    def _send(self, points: _Points) -> None:
        for (window, trace), (xs, ys) in points.items():
            win = self._window(window)
            key = (self._api.url, self.env, win, trace)
            last = _SENT.get(key, float("-inf"))
            fresh = [i for i, x in enumerate(xs) if x > last]
            if not fresh:
                continue
            mode = (REMOTE_WINDOWS[window][6] if window in REMOTE_WINDOWS
                    else "lines+markers" if window == "eval" else "lines")
            self._api.lines(self.env, win, trace, [xs[i] for i in fresh],
                            [ys[i] for i in fresh], append=True, mode=mode)
            _SENT[key] = xs[fresh[-1]]

    def _reset(self) -> None:
        """A trial that starts (again) begins with empty traces."""
        for window in WINDOWS:
            win = self._window(window)
            self._api.post("update", {"eid": self.env, "win": win, "name": self.trace,
                                      "delete": True, "data": []})
            _SENT.pop((self._api.url, self.env, win, self.trace), None)

    def _window(self, window: str) -> str:
        win = window_id(self.group, window)
        if win not in self._ready:
            if not self._api.window_exists(self.env, win):
                _create(self._api, self.env, self.group, window)
            self._ready.add(win)
        return win

    def close(self) -> None:
        self._api.close()

    # -- group level (see metrics/group.py) ------------------------------------------
    @classmethod
    def open_group(cls, group: GroupInfo, server: str = "http://localhost", port: int = 8097,
                   env: str | None = None, base_url: str = "",
                   labels: dict[str, str] | None = None, username: str | None = None,
                   password: str | None = None) -> None:
        """Create the group's windows before any trial writes to them."""
        api = VisdomAPI(server, port, base_url, username=username, password=password)
        try:
            name = env_name(group.group, env)
            for window in WINDOWS:
                if not api.window_exists(name, window_id(group.group, window)):
                    _create(api, name, group.group, window)
        finally:
            api.close()

    @classmethod
    def close_group(cls, group: GroupInfo, trials: list[dict[str, Any]],
                    best: dict[str, Any] | None, state: str = "completed",
                    server: str = "http://localhost",
                    port: int = 8097, env: str | None = None, base_url: str = "",
                    labels: dict[str, str] | None = None, username: str | None = None,
                    password: str | None = None) -> None:
        """Draw the bar chart of best scores, and save the environment on the server."""
        scored = [t for t in trials if t.get("score") is not None]
        api = VisdomAPI(server, port, base_url, username=username, password=password)
        try:
            name = env_name(group.group, env)
            if scored:
                names = ["<br>".join([t["trial"] + (" (pruned)" if t.get("status") == "pruned"
                                                    else ""),
                                      *group.labels.get(t["trial"], "").split()])
                         for t in scored]
                api.bars(name, window_id(group.group, SUMMARY),
                         f"{group.group}: best score per trial", names,
                         [float(t["score"]) for t in scored])
            api.save(name)
        finally:
            api.close()


def _create(api: VisdomAPI, env: str, group: str, window: str) -> None:
    title, _, _, _, xlabel, ylabel, *_ = (WINDOWS | REMOTE_WINDOWS)[window]
    api.create_lines(env, window_id(group, window), f"{group}: {title}", xlabel, ylabel)
