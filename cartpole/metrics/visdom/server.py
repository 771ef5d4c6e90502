"""A local Visdom server that starts offline and whose page renders.

visdom's own entry point (``python -m visdom.server``) first downloads the page's
JavaScript, CSS and fonts from CDNs and crashes without them. Here the page's files
come from the npm registry (``visdom_assets.py``), and the server is started without
any download step. Starting the server runs
``ensure_static_assets()`` (also ``python -m cartpole.metrics.visdom.server --assets-only``);
it is idempotent and takes milliseconds when the files are there. Without npm the
server still starts and takes metrics, and says that its page will stay blank.

With ``--enable-login`` (visdom's own ``-enable_login`` also works) every request needs
the login cookie, which a browser gets from the login page and the engine's client by
posting its credentials (``api.py``). The username and password come from
``VISDOM_USERNAME`` and ``VISDOM_PASSWORD``, never from the command line. Cookies are
signed with ``VISDOM_COOKIE`` when set, else with a fresh random secret at each start
(a restart then logs everyone out; the engine logs in again by itself). visdom itself
would read that secret from ``~/.visdom/COOKIE_SECRET``; here it never touches a file.

Run ``python -m cartpole.metrics.visdom.server --help`` for the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cartpole.fileio import pid_alive, write_text
from cartpole.metrics.visdom import COOKIE_VARIABLE, PASSWORD_VARIABLE, USERNAME_VARIABLE
from cartpole.metrics.visdom.assets import (
    StaticAssetsError,
    VisdomServerError,
    ensure_static_assets,
)

DEFAULT_PORT = 8097
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ENV_PATH = Path("runs/visdom")
PID_NAME = "visdom.pid"

log = logging.getLogger(__name__)


# --- the server --------------------------------------------------------------------

def _url(port: int) -> str:
    return f"http://localhost:{port}"


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "localhost") else host


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{_probe_host(host)}:{port}/",
                                    timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def login_from_env() -> tuple[str, str]:
    """``(username, password)`` from the environment; a clear error when either is unset."""
    username = os.environ.get(USERNAME_VARIABLE, "")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    missing = [name for name, value in ((USERNAME_VARIABLE, username),
                                        (PASSWORD_VARIABLE, password)) if not value]
    if missing:
        raise VisdomServerError(f"--enable-login needs {USERNAME_VARIABLE} and "
                                f"{PASSWORD_VARIABLE} in the environment; "
                                f"{' and '.join(missing)} "
                                f"{'is' if len(missing) == 1 else 'are'} not set")
    return username, password


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _require_login(app: Any, username: str, password: str, cookie_secret: str) -> None:
    """Turn visdom's login on for ``app``, with ``cookie_secret`` signing its cookies.

    ``Application(user_credential=...)`` would do the same but read the secret from
    ``~/.visdom/COOKIE_SECRET``, so the credential is set here instead: visdom's handlers
    read ``login_enabled`` and ``user_credential`` from the app at every request, and
    tornado reads ``cookie_secret`` from its settings.
    """
    # visdom stores sha256(password); a client posts sha256(password), hashed again there.
    app.user_credential = {"username": username, "password": _sha256(_sha256(password))}
    app.login_enabled = True
    app.settings["cookie_secret"] = cookie_secret


def serve(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST,
          env_path: Path = DEFAULT_ENV_PATH, pid_file: Path | None = None,
          login: bool = False) -> None:
    """Run the Visdom server in this process until SIGTERM or SIGINT.

    With ``login``, every request needs a login as ``VISDOM_USERNAME`` with
    ``VISDOM_PASSWORD`` (both from the environment; ``VisdomServerError`` when unset).
    """
    credentials = login_from_env() if login else None
    from tornado.ioloop import IOLoop
    from visdom.server import app as visdom_app

    env_path = Path(env_path)
    env_path.mkdir(parents=True, exist_ok=True)
    # visdom turns on tornado's debug mode, whose autoreload would re-exec this server
    # each time any imported source file changes.
    visdom_app.tornado_settings["autoreload"] = False
    app = visdom_app.Application(port=port, env_path=f"{env_path}/")
    if credentials:
        cookie_secret = os.environ.get(COOKIE_VARIABLE) or secrets.token_hex(32)
        _require_login(app, *credentials, cookie_secret)
    try:
        app.listen(port, address=host, max_buffer_size=1024**3)
    except OSError as exc:
        raise VisdomServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    loop = IOLoop.current()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.asyncio_loop.add_signal_handler(sig, loop.stop)
    if pid_file:
        write_text(Path(pid_file), f"{os.getpid()}\n")
    who = f"login required, user {credentials[0]!r}; " if credentials else ""
    print(f"Visdom is ready at {_url(port)}  ({who}env files in {env_path}, "
          f"pid {os.getpid()})", flush=True)
    try:
        loop.start()
    finally:
        if pid_file:
            with contextlib.suppress(OSError):
                if Path(pid_file).read_text().strip() == str(os.getpid()):
                    Path(pid_file).unlink()


# Servers started by this process, so that stop() can reap them.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _log_tail(log_file: Path, lines: int = 15) -> str:
    try:
        text = Path(log_file).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def start_background(port: int = DEFAULT_PORT, env_path: Path = DEFAULT_ENV_PATH,
                     log_file: Path | None = None, host: str = DEFAULT_HOST,
                     pid_file: Path | None = None, timeout: float = 30.0,
                     login: bool = False) -> tuple[int, str]:
    """Start ``python -m cartpole.metrics.visdom.server`` detached; return ``(pid, url)``
    once it answers.

    The server runs in its own session, writes its output to ``log_file`` (default
    ``<env_path>/visdom.log``) and its pid to ``pid_file`` (default
    ``<env_path>/visdom.pid``). Stop it with ``stop(pid)``. With ``login`` it requires
    the login in ``VISDOM_USERNAME`` / ``VISDOM_PASSWORD``, which it inherits from this
    process's environment (checked here first, so that a missing one fails at once).
    """
    if login:
        login_from_env()
    env_path = Path(env_path)
    env_path.mkdir(parents=True, exist_ok=True)
    log_file = Path(log_file) if log_file else env_path / "visdom.log"
    pid_file = Path(pid_file) if pid_file else env_path / PID_NAME
    if _answers(host, port):
        raise VisdomServerError(f"port {port} already answers HTTP; another server runs there")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cartpole.metrics.visdom.server", "--port", str(port),
           "--host", host, "--env-path", str(env_path), "--pid-file", str(pid_file),
           *(["--enable-login"] if login else [])]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _children[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            raise VisdomServerError(f"the Visdom server exited with code {proc.returncode}; "
                                    f"{log_file} ends with:\n{_log_tail(log_file)}")
        if _answers(host, port, timeout=0.5):
            return proc.pid, _url(port)
        if time.monotonic() > deadline:
            stop(proc.pid)
            raise VisdomServerError(f"the Visdom server did not answer on port {port} within "
                                    f"{timeout:.0f} s; {log_file} ends with:\n"
                                    f"{_log_tail(log_file)}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    proc = _children.get(pid)
    if proc is not None:
        return proc.poll() is None
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, now reaped
            return False
    return pid_alive(pid)


def _is_our_server(pid: int) -> bool:
    """Guard against a stale pid file whose pid now belongs to another program."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return _alive(pid)
    with contextlib.suppress(OSError):
        return b"cartpole.metrics.visdom.server" in cmdline.read_bytes()
    return False


def stop(pid: int, timeout: float = 10.0) -> bool:
    """Stop the server ``pid`` (SIGTERM, then SIGKILL after ``timeout``); False if it was gone."""
    if not _alive(pid):
        _children.pop(pid, None)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = False
    while _alive(pid):
        if time.monotonic() > deadline:
            if killed:
                raise VisdomServerError(f"Visdom server {pid} survived SIGKILL for "
                                        f"{timeout:.0f} s")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + timeout
        time.sleep(0.05)
    _children.pop(pid, None)
    return True


def _recorded_pid(pid_file: Path) -> int | None:
    try:
        return int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None


def stop_from_pid_file(pid_file: Path) -> str:
    """Stop the server recorded in ``pid_file``; a message says what happened."""
    pid_file = Path(pid_file)
    pid = _recorded_pid(pid_file)
    if pid is None:
        return f"no Visdom server recorded in {pid_file}"
    if not _alive(pid) or not _is_our_server(pid):
        pid_file.unlink(missing_ok=True)
        return f"Visdom server {pid} was not running; removed {pid_file}"
    stop(pid)
    pid_file.unlink(missing_ok=True)
    return f"stopped Visdom server {pid}"


# --- command line ------------------------------------------------------------------

EPILOG = """\
examples:
  python -m cartpole.metrics.visdom.server                      # foreground, Ctrl-C to stop
  python -m cartpole.metrics.visdom.server --detach --port 8097 # background; prints URL and pid
  python -m cartpole.metrics.visdom.server --stop               # stop the one in runs/visdom
  python -m cartpole.metrics.visdom.server --assets-only        # fetch the page's files only

  # every request needs a login; the credentials come from the environment only
  # (`read -s` keeps the password out of the shell history)
  read -s VISDOM_PASSWORD && export VISDOM_PASSWORD VISDOM_USERNAME=cartpole
  python -m cartpole.metrics.visdom.server --enable-login --detach

The page's JavaScript comes from the npm registry through `npm` (once); the server
itself never touches the network.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cartpole.metrics.visdom.server",
                                description="Start a local Visdom server that works "
                                            "offline.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    p.add_argument("--host", "--bind", dest="host", default=DEFAULT_HOST,
                   help="address to bind; 0.0.0.0 for every interface "
                        "(default %(default)s, loopback only)")
    p.add_argument("--env-path", type=Path, default=DEFAULT_ENV_PATH,
                   help="folder of Visdom's saved environments (default %(default)s)")
    p.add_argument("--pid-file", type=Path,
                   help=f"where the server records its pid (default <env-path>/{PID_NAME})")
    p.add_argument("--log-file", type=Path,
                   help="server log (default: the terminal; <env-path>/visdom.log "
                        "with --detach)")
    p.add_argument("--enable-login", "-enable_login", action="store_true",
                   help=f"require a login as ${USERNAME_VARIABLE} with ${PASSWORD_VARIABLE} "
                        f"(both read from the environment; login cookies are signed with "
                        f"${COOKIE_VARIABLE} if set, else a new random secret at each start)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true",
                      help="start in the background, wait until it answers, then exit")
    mode.add_argument("--stop", action="store_true",
                      help="stop the server recorded in the pid file")
    mode.add_argument("--assets-only", action="store_true",
                      help="fetch the page's static files, then exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    pid_file = args.pid_file or args.env_path / PID_NAME
    try:
        if args.stop:
            print(stop_from_pid_file(pid_file))
            return 0
        if args.enable_login:
            login_from_env()  # before anything else: a missing credential fails at once
        try:
            written = ensure_static_assets()
        except StaticAssetsError as exc:
            if args.assets_only:
                raise
            # The server still takes metrics; only its page needs the scripts.
            print(f"warning: {exc}; the server starts, but its page stays blank until "
                  "'python -m cartpole.metrics.visdom.server --assets-only' succeeds",
                  file=sys.stderr, flush=True)
            written = []
        if written:
            print(f"fetched {len(written)} static files for the Visdom page with npm",
                  flush=True)
        if args.assets_only:
            return 0
        if args.detach:
            running = _recorded_pid(pid_file)
            if running and _is_our_server(running) and _answers(args.host, args.port):
                print(f"Visdom is already running at {_url(args.port)}  (pid {running})")
                return 0
            pid, url = start_background(args.port, args.env_path, args.log_file,
                                        host=args.host, pid_file=pid_file,
                                        login=args.enable_login)
            who = (f"login required, user {os.environ[USERNAME_VARIABLE]!r}; "
                   if args.enable_login else "")
            print(f"Visdom is ready at {url}  ({who}pid {pid}; stop it with "
                  f"python -m cartpole.metrics.visdom.server --stop --pid-file {pid_file})")
            return 0
        # visdom imports torch when it can (1.2 s here) only to convert tensors, which a
        # server never receives: hiding it makes the server ready five times sooner.
        sys.modules.setdefault("torch", None)  # type: ignore[assignment]
        logging.basicConfig(level=logging.INFO, filename=args.log_file,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
        # index.html asks for visdom/user/style.css, which the package lacks: harmless.
        logging.getLogger("tornado.general").addFilter(
            lambda record: "user/style.css" not in record.getMessage())
        serve(args.port, args.host, args.env_path, pid_file, login=args.enable_login)
    except VisdomServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
