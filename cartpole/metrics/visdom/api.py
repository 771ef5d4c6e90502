"""The few calls of Visdom's HTTP API that the visdom engine needs.

Visdom's server takes JSON posts: ``/events`` creates or replaces a window, ``/update``
appends to or replaces one named trace of a window, ``/win_exists`` answers "true" or
"false", ``/save`` writes an environment to the server's disk. The official client
would do the same, but it imports PyTorch whenever PyTorch is installed (1.5 s and about
200 MiB in every trial process, measured here), and it does not check HTTP status codes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import requests

from cartpole.errors import CartpoleError

WINDOW_SIZE = {"width": 620, "height": 470}  # pixels; room for a legend below the plot


class VisdomError(CartpoleError):
    """The Visdom server refused a request or could not be reached."""


class VisdomAPI:
    def __init__(self, server: str = "http://localhost", port: int = 8097,
                 base_url: str = "", timeout: float = 5.0) -> None:
        server = server if "://" in server else f"http://{server}"
        self.url = f"{server.rstrip('/')}:{port}{base_url.rstrip('/')}"
        self.timeout = timeout
        self._session = requests.Session()

    def post(self, endpoint: str, message: dict[str, Any]) -> str:
        try:
            reply = self._session.post(f"{self.url}/{endpoint}", data=json.dumps(message),
                                       timeout=self.timeout)
        except requests.RequestException as exc:
            raise VisdomError(f"cannot reach Visdom at {self.url}: {type(exc).__name__}") \
                from None
        if reply.status_code != 200:
            raise VisdomError(f"Visdom answered {reply.status_code} to /{endpoint}")
        return reply.text

    def window_exists(self, env: str, win: str) -> bool:
        return self.post("win_exists", {"eid": env, "win": win}) == "true"

    def create_lines(self, env: str, win: str, title: str, xlabel: str, ylabel: str) -> None:
        """An empty line chart whose traces are added later by name."""
        placeholder = {"x": [], "y": [], "name": "", "type": "scatter", "mode": "lines",
                       "showlegend": False}
        layout = {"title": title, "showlegend": True,
                  "legend": {"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"},
                  "margin": {"l": 60, "r": 20, "t": 50, "b": 20},
                  "xaxis": {"title": xlabel}, "yaxis": {"title": ylabel}}
        self.post("events", {"eid": env, "win": win, "data": [placeholder], "layout": layout,
                             "opts": {"title": title, **WINDOW_SIZE}})

    def lines(self, env: str, win: str, name: str, x: list[float], y: list[float | None],
              append: bool = True, mode: str = "lines") -> None:
        """Append points to (or replace) the trace ``name``; it is added if missing."""
        trace = {"x": x, "y": [None if v is None or not math.isfinite(v) else v for v in y],
                 "name": name, "type": "scatter", "mode": mode}
        self.post("update", {"eid": env, "win": win, "name": name, "append": append,
                             "data": [trace]})

    def bars(self, env: str, win: str, title: str, labels: list[str],
             values: list[float]) -> None:
        """Create or replace a bar chart."""
        data = [{"x": labels, "y": values, "type": "bar", "name": "score",
                 "text": [f"{v:.1f}" for v in values], "textposition": "auto"}]
        layout = {"title": title, "showlegend": False,
                  "margin": {"l": 60, "r": 20, "t": 50, "b": 90},
                  "yaxis": {"title": "best evaluation score"}}
        self.post("events", {"eid": env, "win": win, "data": data, "layout": layout,
                             "opts": {"title": title, **WINDOW_SIZE}})

    def save(self, env: str) -> None:
        """Ask the server to write the environment to its env_path."""
        self.post("save", {"data": [env]})

    def close(self) -> None:
        self._session.close()
