"""The few calls of Visdom's HTTP API that the visdom engine needs.

Visdom's server takes JSON posts: ``/events`` creates or replaces a window, ``/update``
appends to or replaces one named trace of a window, ``/win_exists`` answers "true" or
"false", ``/save`` writes an environment to the server's disk. The official client
would do the same, but it imports PyTorch whenever PyTorch is installed (1.5 s and about
200 MiB in every trial process, measured here), and it does not check HTTP status codes.

Login: a server started with login enabled answers 400 to any request without a valid
login cookie. When credentials are known (``username`` and ``password``, else
``VISDOM_USERNAME`` and ``VISDOM_PASSWORD``), the client logs in before its first request:
a JSON post of the username and the SHA-256 of the password to the base URL, whose cookie
the session keeps. A request answered 400 later on (the server restarted with a new
cookie secret) logs in again and is sent again, once; so is a first request without
credentials, which then fails with "requires a login". A refused login raises
``VisdomLoginError``. No message ever holds the password.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import requests

from cartpole.errors import CartpoleError
from cartpole.metrics.secrets import CredentialsRefused, credential, mask_url
from cartpole.metrics.visdom import PASSWORD_VARIABLE, USERNAME_VARIABLE

WINDOW_SIZE = {"width": 620, "height": 470}  # pixels; room for a legend below the plot


class VisdomError(CartpoleError):
    """The Visdom server refused a request or could not be reached."""


class VisdomLoginError(VisdomError, CredentialsRefused):
    """The Visdom server requires a login, and ours was refused or no credentials are set.

    Retrying with the same credentials cannot help."""


class VisdomAPI:
    def __init__(self, server: str = "http://localhost", port: int = 8097,
                 base_url: str = "", timeout: float = 5.0, username: str | None = None,
                 password: str | None = None) -> None:
        server = server if "://" in server else f"http://{server}"
        self.url = f"{server.rstrip('/')}:{port}{base_url.rstrip('/')}"
        self.timeout = timeout
        self.username = credential(username, USERNAME_VARIABLE)
        password = credential(password, PASSWORD_VARIABLE)
        # What the login posts; the password itself is not kept.
        self._digest = hashlib.sha256(password.encode("utf-8")).hexdigest() \
            if password is not None else None
        self.logins = 0  # successful logins of this session
        self._login_due = bool(self.username and self._digest)
        self._session = requests.Session()

    def post(self, endpoint: str, message: dict[str, Any]) -> str:
        body = json.dumps(message)
        if self._login_due:
            self._login_due = False
            try:
                self.login()
            except VisdomLoginError:
                raise
            except VisdomError:
                # Unreachable, or a server without login (visdom's answers 500 to a
                # login): the request itself says what is wrong, if anything is.
                pass
        reply = self._post(endpoint, body)
        if reply.status_code == 400:  # visdom's answer to a missing or stale login cookie
            self.login()
            reply = self._post(endpoint, body)
            if reply.status_code == 400:
                raise VisdomLoginError(f"Visdom at {mask_url(self.url)} still refused "
                                       f"/{endpoint} after the login of user "
                                       f"{self.username!r}")
        if reply.status_code != 200:
            raise VisdomError(f"Visdom answered {reply.status_code} to /{endpoint}")
        return reply.text

    def login(self) -> None:
        """Log in; the session keeps the cookie. ``VisdomLoginError`` when refused."""
        where = f"Visdom at {mask_url(self.url)}"
        if not self.username or self._digest is None:
            raise VisdomLoginError(f"{where} requires a login: set {USERNAME_VARIABLE} and "
                                   f"{PASSWORD_VARIABLE} (or the visdom engine's username "
                                   "and password settings)")
        body = json.dumps({"username": self.username, "password": self._digest})
        reply = self._post("", body)
        if reply.status_code == 400:
            raise VisdomLoginError(f"{where} refused the login of user {self.username!r} "
                                   f"(check {USERNAME_VARIABLE} / {PASSWORD_VARIABLE})")
        if reply.status_code != 200:
            raise VisdomError(f"{where} answered {reply.status_code} to the login of user "
                              f"{self.username!r}")
        self.logins += 1

    def _post(self, endpoint: str, body: str) -> requests.Response:
        try:
            return self._session.post(f"{self.url}/{endpoint}", data=body,
                                      timeout=self.timeout)
        except requests.RequestException as exc:
            raise VisdomError(f"cannot reach Visdom at {mask_url(self.url)}: "
                              f"{type(exc).__name__}") from None

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
