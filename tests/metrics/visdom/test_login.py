"""Visdom with login: the server, the engine's client and a real trial, against real servers.

Every server here starts with ``--enable-login`` unless a test says otherwise; the
password is a fresh random one per test, so that finding it anywhere is a finding.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cartpole.metrics.secrets import CredentialsRefused
from cartpole.metrics.visdom import server as vs
from cartpole.metrics.visdom.api import VisdomAPI, VisdomError, VisdomLoginError
from cartpole.metrics.visdom.assets import ensure_static_assets
from tests.logs import records
from tests.servers import free_port

USER = "cartpole"
LOGIN_VARIABLES = ("VISDOM_USERNAME", "VISDOM_PASSWORD", "VISDOM_COOKIE")


@dataclass
class LoginServer:
    port: int
    workdir: Path
    password: str
    pid: int | None = None

    def start(self) -> LoginServer:
        self.pid, _ = vs.start_background(self.port, self.workdir / "env",
                                          self.workdir / "visdom.log", login=True)
        return self

    def stop(self) -> None:
        if self.pid is not None:
            vs.stop(self.pid)
            self.pid = None

    def api(self, **credentials: str | None) -> VisdomAPI:
        return VisdomAPI("127.0.0.1", self.port, **credentials)

    def windows(self, env: str) -> dict:
        """Every window of ``env`` as the server holds it, read with the right login."""
        api = self.api(username=USER, password=self.password)
        try:
            return json.loads(api.post("win_data", {"eid": env, "win": None}))
        finally:
            api.close()


@pytest.fixture
def server(tmp_path, monkeypatch) -> Iterator[LoginServer]:
    """A login server (not started): the login is in this process's environment, which
    the server inherits; no cookie secret is set, so each start makes a new one."""
    ensure_static_assets()
    password = f"pw-{secrets.token_hex(8)}"
    monkeypatch.setenv("VISDOM_USERNAME", USER)
    monkeypatch.setenv("VISDOM_PASSWORD", password)
    monkeypatch.delenv("VISDOM_COOKIE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # visdom's default: ~/.visdom
    found = LoginServer(free_port(), tmp_path / "visdom", password)
    yield found
    found.stop()


def _env(**visdom: str) -> dict[str, str]:
    """This process's environment without any Visdom login, plus ``visdom``'s variables."""
    clean = {k: v for k, v in os.environ.items() if k not in LOGIN_VARIABLES}
    return {**clean, **{f"VISDOM_{k.upper()}": v for k, v in visdom.items()}}


def _train(cwd: Path, quick, settings: dict, group: str, env: dict[str, str]):
    cmd = [str(Path(sys.executable).with_name("cartpole")), "--metrics-engine", "log",
           "--metrics-engine", "visdom", "--metrics-config", json.dumps({"visdom": settings}),
           "train", *quick(steps=700), "--group", group]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env, check=False)


def _events(trial_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (trial_dir / "events.jsonl").read_text().splitlines()]


def _files_holding(root: Path, text: str) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and text.encode() in f.read_bytes()]


# -- the server ------------------------------------------------------------------------

def test_start_background_without_credentials_fails_before_starting(tmp_path, monkeypatch):
    monkeypatch.setenv("VISDOM_USERNAME", USER)
    monkeypatch.delenv("VISDOM_PASSWORD", raising=False)
    with pytest.raises(vs.VisdomServerError, match=r"VISDOM_PASSWORD is not set$"):
        vs.start_background(free_port(), tmp_path / "env", login=True)
    assert not (tmp_path / "env").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("flag", "given", "missing"), [
    ("--enable-login", {"username": USER}, "VISDOM_PASSWORD is not set"),
    ("-enable_login", {"password": "x"}, "VISDOM_USERNAME is not set"),
    ("--enable-login", {"username": "", "password": ""},
     "VISDOM_USERNAME and VISDOM_PASSWORD are not set"),
])
def test_server_refuses_to_start_without_credentials(tmp_path, flag, given, missing):
    port = free_port()
    started = subprocess.run(
        [sys.executable, "-m", "cartpole.metrics.visdom.server", flag, "--port", str(port),
         "--env-path", str(tmp_path / "env")],
        capture_output=True, text=True, timeout=60, env=_env(**given), check=False)
    assert started.returncode == 1
    assert started.stderr.splitlines() == [
        f"error: --enable-login needs VISDOM_USERNAME and VISDOM_PASSWORD in the "
        f"environment; {missing}"]
    assert not vs._answers("127.0.0.1", port)


@pytest.mark.slow
def test_detached_login_server_keeps_its_secrets_out_of_files_and_output(server, tmp_path,
                                                                         monkeypatch):
    cli = [sys.executable, "-m", "cartpole.metrics.visdom.server", "--env-path",
           str(server.workdir / "env")]
    started = subprocess.run([*cli, "--enable-login", "--detach", "--port", str(server.port)],
                             capture_output=True, text=True, timeout=60, check=False)
    server.pid = vs._recorded_pid(server.workdir / "env" / vs.PID_NAME)
    assert started.returncode == 0, started.stderr
    assert f"Visdom is ready at http://localhost:{server.port}  (login required, user " \
           f"'{USER}'; pid {server.pid}" in started.stdout
    assert server.api().window_exists("e", "w") is False  # the login from the environment
    monkeypatch.delenv("VISDOM_PASSWORD")
    with pytest.raises(VisdomLoginError, match="requires a login"):
        server.api().window_exists("e", "w")
    log = (server.workdir / "env" / "visdom.log").read_text()
    assert f"login required, user '{USER}'" in log
    assert server.password not in started.stdout + started.stderr
    assert _files_holding(tmp_path, server.password) == []
    assert not (tmp_path / "home" / ".visdom").exists()
    assert not list(tmp_path.rglob("COOKIE_SECRET"))


# -- the client ------------------------------------------------------------------------

@pytest.mark.slow
def test_client_logs_in_once_and_again_after_a_restart_with_a_new_cookie_secret(server):
    server.start()
    api = server.api()  # the login from the environment
    api.create_lines("e", "w", "title", "x", "y")
    assert api.window_exists("e", "w")
    assert api.logins == 1  # once per session, not per request
    api.save("e")

    server.stop()
    server.start()  # a new random cookie secret: the session's cookie is stale
    assert api.window_exists("e", "w")  # saved in env_path, reloaded
    api.lines("e", "w", "t000", [1.0, 2.0], [3.0, 4.0])
    assert api.logins == 2
    assert server.windows("e")["w"]["content"]["data"][-1]["y"] == [3.0, 4.0]
    api.close()


@pytest.mark.slow
def test_a_set_cookie_secret_outlives_a_restart(server, monkeypatch):
    monkeypatch.setenv("VISDOM_COOKIE", secrets.token_hex(32))
    server.start()
    api = server.api()
    assert api.window_exists("e", "w") is False
    server.stop()
    server.start()
    assert api.window_exists("e", "w") is False
    assert api.logins == 1
    api.close()


@pytest.mark.slow
def test_refused_and_missing_logins_are_one_line_errors_without_the_password(server,
                                                                            monkeypatch):
    server.start()
    for variable in ("VISDOM_USERNAME", "VISDOM_PASSWORD"):  # only what each case gives
        monkeypatch.delenv(variable)
    wrong = f"wrong-{secrets.token_hex(8)}"
    cases = [
        ({"username": USER, "password": wrong}, VisdomLoginError,
         f"Visdom at http://127.0.0.1:{server.port} refused the login of user '{USER}' "
         "(check VISDOM_USERNAME / VISDOM_PASSWORD)"),
        ({"username": "someone", "password": server.password}, VisdomLoginError,
         f"Visdom at http://127.0.0.1:{server.port} refused the login of user 'someone' "
         "(check VISDOM_USERNAME / VISDOM_PASSWORD)"),
        ({}, VisdomLoginError,
         f"Visdom at http://127.0.0.1:{server.port} requires a login: set VISDOM_USERNAME "
         "and VISDOM_PASSWORD (or the visdom engine's username and password settings)"),
    ]
    for credentials, error, message in cases:
        api = server.api(**credentials)
        with pytest.raises(error) as caught:
            api.window_exists("e", "w")
        assert str(caught.value) == message
        assert server.password not in str(caught.value) and wrong not in str(caught.value)
        assert isinstance(caught.value, VisdomError)
        assert isinstance(caught.value, CredentialsRefused)  # what Resilient names as such
        api.close()


@pytest.mark.slow
def test_credentials_do_no_harm_against_a_server_without_login(tmp_path, monkeypatch):
    ensure_static_assets()
    monkeypatch.delenv("VISDOM_USERNAME", raising=False)
    monkeypatch.delenv("VISDOM_PASSWORD", raising=False)
    port = free_port()
    pid, _ = vs.start_background(port, tmp_path / "env", tmp_path / "visdom.log")
    try:
        api = VisdomAPI("127.0.0.1", port, username=USER, password="unused")
        api.create_lines("e", "w", "title", "x", "y")
        assert api.window_exists("e", "w")
        assert api.logins == 0
        api.close()
    finally:
        vs.stop(pid)


# -- the engine in a real trial --------------------------------------------------------

def _traces(window: dict) -> dict:
    return {t["name"]: t for t in window["content"]["data"] if t["name"]}


@pytest.mark.slow
def test_a_trial_delivers_every_event_to_a_login_server(server, tmp_path, quick):
    """The login as a user sets it: in the environment, which the trial inherits."""
    server.start()
    done = _train(tmp_path, quick, {"port": server.port}, "gl",
                  _env(username=USER, password=server.password))
    assert done.returncode == 0, done.stderr
    assert records(done.stderr, "WARNING") == [], done.stderr
    events = _events(tmp_path / "runs" / "gl" / "t000")
    windows = server.windows("cartpole_gl")
    assert set(windows) == {f"gl_{w}" for w in ("score", "eval", "epsilon", "loss",
                                                 "summary")}
    score = _traces(windows["gl_score"])["t000"]
    episodes = [e for e in events if e["event"] == "episode"]
    assert score["x"] == [e["total_steps"] for e in episodes]
    assert score["y"] == [e["score"] for e in episodes]
    assert _traces(windows["gl_eval"])["t000"]["y"] == \
        [e["eval_mean"] for e in events if e["event"] == "eval"]
    assert server.password not in done.stdout + done.stderr
    assert _files_holding(tmp_path / "runs", server.password) == []


@pytest.mark.slow
def test_a_wrong_password_is_one_clear_warning_and_loses_no_event(server, tmp_path, quick):
    """The wrong password given as a setting: it must not reach any output or file."""
    server.start()
    wrong = f"wrong-{secrets.token_hex(8)}"
    done = _train(tmp_path, quick, {"port": server.port, "username": USER, "password": wrong},
                  "gw", _env())
    assert done.returncode == 0, done.stderr
    refused = (f"Visdom at http://localhost:{server.port} refused the login of user "
               f"'{USER}' (check VISDOM_USERNAME / VISDOM_PASSWORD)")
    warnings = records(done.stderr, "WARNING")
    assert [w for w in warnings if refused in w] == [warnings[0]], done.stderr
    assert all("refused the login" not in w for w in warnings[1:]), done.stderr
    assert "Traceback" not in done.stderr
    for secret in (wrong, server.password):
        assert secret not in done.stdout + done.stderr
        assert _files_holding(tmp_path / "runs", secret) == []

    events = _events(tmp_path / "runs" / "gw" / "t000")
    logged = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"ts"')]
    assert logged == events and events[-1]["event"] == "trial_end"
    result = json.loads((tmp_path / "runs" / "gw" / "t000" / "result.json").read_text())
    assert result["undelivered"] == {"visdom": len(events)}
    assert server.api().window_exists("cartpole_gw", "gw_score") is False  # nothing got in
