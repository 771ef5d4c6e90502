"""A local Visdom server that starts offline and whose page renders.

visdom's own entry point (``python -m visdom.server``) first downloads the page's
JavaScript, CSS and fonts from CDNs and crashes without them. Here the same files, at
the same versions, come from the npm registry through the ``npm`` CLI (it resolves its
own registry and cache), are copied into visdom's ``static/`` folder once, and the
server is started without any download step. ``make venv`` runs
``ensure_static_assets()`` once (``python -m cartpole.visdom_server --assets-only``);
it is idempotent and takes milliseconds when the files are there.

Run ``python -m cartpole.visdom_server --help`` for the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cartpole.errors import CartpoleError

DEFAULT_PORT = 8097
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ENV_PATH = Path("runs/visdom")
PID_NAME = "visdom.pid"
MARKER = "version.built"  # visdom skips its download when this holds its version

# File under visdom's static/ -> (npm package@version, path inside the package).
# The versions are the ones visdom 0.2.4 downloads (visdom/server/build.py).
ASSETS: dict[str, tuple[str, str]] = {
    "js/jquery.min.js": ("jquery@3.1.1", "dist/jquery.min.js"),
    "js/bootstrap.min.js": ("bootstrap@3.3.7", "dist/js/bootstrap.min.js"),
    "js/react-react.min.js": ("react@16.2.0", "umd/react.production.min.js"),
    "js/react-dom.min.js": ("react-dom@16.2.0", "umd/react-dom.production.min.js"),
    "js/react-modal.min.js": ("react-modal@3.1.10", "dist/react-modal.min.js"),
    "js/plotly-plotly.min.js": ("plotly.js-dist-min@2.11.1", "plotly.min.js"),
    "js/sjcl.js": ("sjcl@1.0.7", "sjcl.js"),
    "js/layout_bin_packer.js": ("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js"),
    "js/layout-bin-packer.js.map": ("layout-bin-packer@1.4.0",
                                    "dist/layout-bin-packer.js.map"),
    "js/d3.v3.min.js": ("d3@3.5.17", "d3.min.js"),  # the last d3 v3
    "js/d3-selection-multi.v1.js": ("d3-selection-multi@1.0.1",
                                    "build/d3-selection-multi.js"),
    "js/saveSvgAsPng.js": ("save-svg-as-png@1.4.17", "lib/saveSvgAsPng.js"),
    "css/bootstrap.min.css": ("bootstrap@3.3.7", "dist/css/bootstrap.min.css"),
    "css/react-resizable-styles.css": ("react-resizable@1.4.6", "css/styles.css"),
    "css/react-grid-layout-styles.css": ("react-grid-layout@0.16.3", "css/styles.css"),
    # visdom stores the package's main file under this odd name; nothing loads it.
    "fonts/classnames": ("classnames@2.2.5", "index.js"),
    **{f"fonts/glyphicons-halflings-regular.{ext}":
       ("bootstrap@3.3.7", f"dist/fonts/glyphicons-halflings-regular.{ext}")
       for ext in ("eot", "woff2", "woff", "ttf", "svg")},
    # visdom's name keeps the URL fragment; the plain .svg above is what the CSS asks for.
    "fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular":
        ("bootstrap@3.3.7", "dist/fonts/glyphicons-halflings-regular.svg"),
    # The few MathJax files visdom fetches (only LaTeX in plot labels needs them).
    **{f"js/mathjax/2.7.5/{path}": ("mathjax@2.7.5", path) for path in (
        "MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js",
        "extensions/Safe.js", "jax/output/SVG/jax.js", "jax/output/SVG/config.js",
        "jax/output/SVG/fonts/TeX/fontdata.js",
        "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js")},
}

log = logging.getLogger(__name__)


class VisdomServerError(CartpoleError):
    """The local Visdom server could not be prepared, started or stopped."""


class StaticAssetsError(VisdomServerError):
    """npm is missing, or a package of the page's static files could not be fetched."""


# --- static files ------------------------------------------------------------------

def _visdom_dir() -> Path:
    # Found, not imported: importing visdom also imports torch when present (1.2 s).
    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise VisdomServerError("visdom is not installed; pip install 'cartpole[visdom]'")
    return Path(spec.origin).resolve().parent


def visdom_static_dir() -> Path:
    """The ``static/`` folder the installed visdom package serves."""
    return _visdom_dir() / "static"


def _visdom_version() -> str:
    """``visdom.__version__``, read the way visdom reads it."""
    try:
        return (_visdom_dir() / "VERSION").read_text().strip()
    except OSError:
        return "no_version_file"


def _missing(static: Path) -> list[str]:
    return [name for name in ASSETS
            if not (static / name).is_file() or (static / name).stat().st_size == 0]


def _npm_pack(specs: list[str], dest: Path) -> dict[str, Path]:
    """Fetch the tarballs of ``specs`` (``name@version``) into ``dest``: spec -> tarball."""
    npm = os.environ.get("NPM") or shutil.which("npm")
    if not npm:
        raise StaticAssetsError(
            "npm not found on PATH (needed once to fetch Visdom's page scripts: "
            f"{', '.join(specs)}); install it (Debian: apt-get install npm) or set NPM")
    cmd = [npm, "pack", "--json", "--prefer-offline", "--no-update-notifier",
           "--pack-destination", str(dest), *specs]
    try:
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, timeout=600,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StaticAssetsError(f"npm pack {' '.join(specs)} failed: {exc}") from None
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = None
    if proc.returncode != 0 or not isinstance(result, list):
        reason = result.get("error", {}).get("summary") if isinstance(result, dict) else None
        if not reason:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StaticAssetsError(f"npm could not fetch {', '.join(specs)}: {reason}")
    packed = {f"{item['name']}@{item['version']}": dest / item["filename"] for item in result}
    lost = [spec for spec in specs if spec not in packed]
    if lost:
        raise StaticAssetsError(f"npm pack returned no tarball for {', '.join(lost)}")
    return packed


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _extract(tarball: Path, spec: str, names: list[str], static: Path) -> None:
    """Copy the files ``names`` (keys of ASSETS, all from ``spec``) out of ``tarball``."""
    left = {ASSETS[name][1] for name in names}
    with tarfile.open(tarball) as tar:  # one pass: the MathJax tarball is 21 MB
        for member in tar:
            inner = member.name.removeprefix("package/")
            if inner not in left or not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            for name in names:
                if ASSETS[name][1] == inner:
                    _write_atomic(static / name, data)
            left.discard(inner)
            if not left:
                return
    raise StaticAssetsError(f"{spec} has no file {', '.join(sorted(left))}")


def ensure_static_assets(static_dir: Path | None = None) -> list[str]:
    """Put every file visdom's page needs into its ``static/`` folder; return those written.

    Missing files are taken from the npm registry at the versions visdom itself would
    download, then visdom's marker file is written so that its own download step (if
    anyone runs ``python -m visdom.server``) finds nothing left to fetch. Returns ``[]``
    quickly when everything is in place.
    """
    static = Path(static_dir) if static_dir else visdom_static_dir()
    version = _visdom_version()
    marker = static / MARKER
    missing = _missing(static)
    if not missing and marker.is_file() and marker.read_text().strip() == version:
        return []
    if missing:
        specs = sorted({ASSETS[name][0] for name in missing})
        with tempfile.TemporaryDirectory(prefix="cp-npm-") as tmp:
            for spec, tarball in _npm_pack(specs, Path(tmp)).items():
                _extract(tarball, spec, [n for n in missing if ASSETS[n][0] == spec],
                         static)
    _write_atomic(marker, version.encode())
    return missing


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


def serve(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST,
          env_path: Path = DEFAULT_ENV_PATH, pid_file: Path | None = None) -> None:
    """Run the Visdom server in this process until SIGTERM or SIGINT."""
    from tornado.ioloop import IOLoop
    from visdom.server import app as visdom_app

    env_path = Path(env_path)
    env_path.mkdir(parents=True, exist_ok=True)
    # visdom turns on tornado's debug mode, whose autoreload would re-exec this server
    # each time any imported source file changes.
    visdom_app.tornado_settings["autoreload"] = False
    app = visdom_app.Application(port=port, env_path=f"{env_path}/")
    try:
        app.listen(port, address=host, max_buffer_size=1024**3)
    except OSError as exc:
        raise VisdomServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    loop = IOLoop.current()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.asyncio_loop.add_signal_handler(sig, loop.stop)
    if pid_file:
        _write_atomic(Path(pid_file), f"{os.getpid()}\n".encode())
    print(f"Visdom is ready at {_url(port)}  (env files in {env_path}, pid {os.getpid()})",
          flush=True)
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
                     pid_file: Path | None = None, timeout: float = 30.0) -> tuple[int, str]:
    """Start ``python -m cartpole.visdom_server`` detached; return ``(pid, url)`` once it answers.

    The server runs in its own session, writes its output to ``log_file`` (default
    ``<env_path>/visdom.log``) and its pid to ``pid_file`` (default
    ``<env_path>/visdom.pid``). Stop it with ``stop(pid)``.
    """
    env_path = Path(env_path)
    env_path.mkdir(parents=True, exist_ok=True)
    log_file = Path(log_file) if log_file else env_path / "visdom.log"
    pid_file = Path(pid_file) if pid_file else env_path / PID_NAME
    if _answers(host, port):
        raise VisdomServerError(f"port {port} already answers HTTP; another server runs there")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cartpole.visdom_server", "--port", str(port),
           "--host", host, "--env-path", str(env_path), "--pid-file", str(pid_file)]
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie nobody reaped yet is gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_our_server(pid: int) -> bool:
    """Guard against a stale pid file whose pid now belongs to another program."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return _alive(pid)
    with contextlib.suppress(OSError):
        return b"cartpole.visdom_server" in cmdline.read_bytes()
    return False


def stop(pid: int, timeout: float = 10.0) -> bool:
    """Stop the server ``pid`` (SIGTERM, then SIGKILL after ``timeout``); False if it was gone."""
    if not _alive(pid):
        _children.pop(pid, None)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
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
  python -m cartpole.visdom_server                      # foreground, Ctrl-C to stop
  python -m cartpole.visdom_server --detach --port 8097 # background; prints URL and pid
  python -m cartpole.visdom_server --stop               # stop the one in runs/visdom
  python -m cartpole.visdom_server --assets-only        # fetch the page's files only

The page's JavaScript comes from the npm registry through `npm` (once); the server
itself never touches the network.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cartpole.visdom_server",
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
        written = ensure_static_assets()
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
                                        host=args.host, pid_file=pid_file)
            print(f"Visdom is ready at {url}  (pid {pid}; stop it with "
                  f"python -m cartpole.visdom_server --stop --pid-file {pid_file})")
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
        serve(args.port, args.host, args.env_path, pid_file)
    except VisdomServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
