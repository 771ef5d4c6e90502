"""Real servers for the tests: free loopback ports, started as processes, stopped by PID."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self, grace: float = 3.0) -> None:
        """Stop the whole process group we started, and wait for it: SIGTERM, then
        SIGKILL after ``grace`` seconds (a server waiting for idle keep-alive
        connections of the test process would otherwise take its time)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass


def start(cmd: list[str], url: str, log: Path, ready_path: str = "/",
          timeout: float = 60.0, env: dict[str, str] | None = None) -> Server:
    """Start ``cmd`` in its own process group and wait until ``url + ready_path`` answers."""
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=log.parent,
                            env={**os.environ, **(env or {})})
    handle.close()
    server = Server(proc, url, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}:\n"
                               f"{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + ready_path, timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{cmd[0]} did not answer at {url} within {timeout:.0f} s:\n"
                       f"{log.read_text()[-2000:]}")


def mlflow_server(workdir: Path, auth: tuple[str, str] | None = None,
                  auth_ini: Path | None = None) -> Server:
    """``mlflow server`` on a SQLite store with served artifacts, as the docs run it.

    With ``auth`` (admin user, password): its basic-auth app, configured by ``auth_ini``
    (the stack's own file) with the user store moved into ``workdir``.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
           "--artifacts-destination", str(workdir / "artifacts"), "--workers", "1"]
    # Its job runner (a pool of consumer processes, for features we do not use) is off.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if auth:
        ini = workdir / "basic_auth.ini"
        text = auth_ini.read_text() if auth_ini else "[mlflow]\ndefault_permission = READ\n"
        lines = [line for line in text.splitlines()
                 if not line.strip().startswith("database_uri")]
        lines.insert(lines.index("[mlflow]") + 1,
                     f"database_uri = sqlite:///{workdir / 'basic_auth.db'}")
        ini.write_text("\n".join(lines) + "\n")
        cmd += ["--app-name", "basic-auth"]
        env |= {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_USERNAME": auth[0],
                "MLFLOW_AUTH_ADMIN_PASSWORD": auth[1],
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)}  # for its CSRF
    return start(cmd, f"http://127.0.0.1:{port}", workdir / "mlflow.log", "/health",
                 timeout=120, env=env)


class Visdom:
    """A Visdom server process of ours (``cartpole.metrics.visdom.server``), and a look
    inside it."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.pid: int | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Visdom:
        from cartpole.metrics.visdom.server import start_background

        self.pid, self.url = start_background(self.port, self.workdir / "env",
                                              self.workdir / "visdom.log")
        return self

    def stop(self) -> None:
        from cartpole.metrics.visdom.server import stop

        if self.pid is not None:
            stop(self.pid)
            self.pid = None

    def windows(self, env: str) -> dict:
        """Every window of ``env``, as the server holds it."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/win_data",
            data=json.dumps({"eid": env, "win": None}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())


SELDON_VENV = Path(os.environ.get("SELDON_VENV", Path(__file__).parents[1] / ".venv-seldon"))


def seldon_microservice(workdir: Path, interface: str, service_type: str,
                        parameters: list[dict], env: dict[str, str] | None = None,
                        grpc_port: int | None = None) -> Server:
    """seldon-core-microservice 1.18.2 from ``.venv-seldon`` (``make seldon-venv``),
    serving our class over REST (``server.url``) and gRPC (``server.grpc_port``)."""
    exe = SELDON_VENV / "bin" / "seldon-core-microservice"
    assert exe.exists(), f"{exe} is missing: run `make seldon-venv`"
    port, grpc_port = free_port(), grpc_port or free_port()
    cmd = [str(exe), interface, "--service-type", service_type, "--http-port", str(port),
           "--grpc-port", str(grpc_port), "--metrics-port", str(free_port()),
           "--workers", "1", "--parameters", json.dumps(parameters)]
    saved = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    try:
        server = start(cmd, f"http://127.0.0.1:{port}", workdir / f"{service_type}.log",
                       "/health/ping", timeout=60)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    server.grpc_port = grpc_port  # type: ignore[attr-defined]
    return server


def cartpole_serve(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """``cartpole serve`` as a user runs it, on a free port (``args``: models and options)."""
    port = free_port()
    cmd = [str(BIN / "cartpole"), "serve", "--port", str(port), *args]
    if env:
        cmd = ["env", *(f"{k}={v}" for k, v in env.items()), *cmd]
    return start(cmd, f"http://127.0.0.1:{port}", workdir / f"serve-{port}.log",
                 "/health/ping", timeout=30)


def prometheus_server(workdir: Path, targets: dict[str, str],
                      tokens: dict[str, str] | None = None) -> Server:
    """Debian's ``prometheus`` (``make system-deps``) scraping ``targets`` (job name to
    ``host:port``) every second, on a free loopback port with its data in ``workdir``:
    never the system service's port 9090 or data. ``tokens`` (job name to key): that
    job scrapes with ``Authorization: Bearer KEY``, read from a file of mode 600."""
    import shutil

    exe = shutil.which("prometheus")
    assert exe, "prometheus is missing: run `make system-deps` (Debian's package)"
    workdir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for job, target in targets.items():
        scrape = {"job_name": job, "static_configs": [{"targets": [target]}]}
        if tokens and job in tokens:
            secret = workdir / f"{job}.token"
            secret.touch(mode=0o600)
            secret.write_text(tokens[job])
            scrape["authorization"] = {"type": "Bearer", "credentials_file": str(secret)}
        jobs.append(scrape)
    config = workdir / "prometheus.yml"  # JSON is YAML
    config.write_text(json.dumps({"global": {"scrape_interval": "1s",
                                             "scrape_timeout": "1s"},
                                  "scrape_configs": jobs}, indent=2))
    port = free_port()
    cmd = [exe, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
           f"--storage.tsdb.path={workdir / 'data'}"]
    return start(cmd, f"http://127.0.0.1:{port}", workdir / "prometheus.log", "/-/ready",
                 timeout=60)


MLSERVER_VENV = Path(os.environ.get("MLSERVER_VENV",
                                    Path(__file__).parents[1] / ".venv-mlserver"))


def mlserver_start(model_dir: Path, workdir: Path, settings: dict | None = None,
                   ready_path: str = "/v2/health/ready", timeout: float = 90.0) -> Server:
    """``mlserver start model_dir`` (MLServer 1.7 from ``.venv-mlserver``, ``make
    mlserver-venv``) on free loopback ports: REST at ``server.url``, gRPC on
    ``server.grpc_port``, metrics on ``server.metrics_port``. ``settings`` go into the
    settings.json written into ``model_dir``, with the host, ports and MLServer's working
    folders replaced by ours. Started once ``ready_path`` answers 200
    (``/v2/health/ready``: every model loaded); logs in ``workdir``."""
    exe = MLSERVER_VENV / "bin" / "mlserver"
    assert exe.exists(), f"{exe} is missing: run `make mlserver-venv`"
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    (model_dir / "settings.json").write_text(json.dumps({
        **(settings or {}), "host": "127.0.0.1", "http_port": http_port,
        "grpc_port": grpc_port, "metrics_port": metrics_port,
        "metrics_dir": str(workdir / "metrics"), "environments_dir": str(workdir / "envs")}))
    workdir.mkdir(parents=True, exist_ok=True)
    server = start([str(exe), "start", str(model_dir)], f"http://127.0.0.1:{http_port}",
                   workdir / f"mlserver-{http_port}.log", ready_path, timeout=timeout)
    server.grpc_port = grpc_port  # type: ignore[attr-defined]
    server.metrics_port = metrics_port  # type: ignore[attr-defined]
    return server


def postgres_bindir() -> Path:
    """The newest PostgreSQL server's binaries from Debian's packages (``make
    system-deps``): ``/usr/lib/postgresql/<major>/bin``, which is not on PATH; else
    wherever ``pg_config --bindir`` or an ``initdb`` on PATH says."""
    import shutil

    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if found:
        return max(found, key=lambda bindir: int(bindir.parent.name.split(".")[0])
                   if bindir.parent.name.split(".")[0].isdigit() else -1)
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True,
                                     text=True, check=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    initdb = shutil.which("initdb")
    assert initdb, "PostgreSQL is missing: run `make system-deps` (Debian's postgresql)"
    return Path(initdb).resolve().parent


@dataclass
class Postgres(Server):
    """A PostgreSQL postmaster of ours: ``url`` is an SQLAlchemy URL of its database,
    ``home`` the short folder with its data and socket (removed by ``stop``)."""

    home: Path | None = None

    def stop(self, grace: float = 10.0) -> None:
        """Fast shutdown (SIGINT to the postmaster: clients are disconnected), then
        SIGQUIT and SIGKILL to its process group if it lingers; then its files go."""
        import shutil

        try:
            for sig, wait in ((signal.SIGINT, grace), (signal.SIGQUIT, 3.0),
                              (signal.SIGKILL, 10.0)):
                if self.proc.poll() is not None:
                    break
                try:
                    if sig == signal.SIGKILL:
                        os.killpg(self.proc.pid, sig)
                    else:
                        os.kill(self.proc.pid, sig)
                    self.proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    break
        finally:
            if self.home is not None:
                shutil.rmtree(self.home, ignore_errors=True)
                self.home = None


def postgres_server(workdir: Path, database: str = "cartpole",
                    timeout: float = 60.0) -> Postgres:
    """Debian's PostgreSQL (``make system-deps``) as a cluster of our own: trust
    authentication from loopback only, listening on 127.0.0.1 at a free port, never the
    system cluster (port 5432, /var/lib/postgresql). Returns it once ``database`` exists,
    with ``url`` = ``postgresql+psycopg://postgres@127.0.0.1:PORT/DATABASE``.

    PostgreSQL refuses to run as root: as root, initdb and the server run as Debian's
    ``postgres`` user. Its data and unix socket live in a short folder of /tmp (pytest's
    folders are private to root, and a socket path is limited to 107 bytes), removed
    by ``stop()``; the log is ``workdir/postgres.log``.
    """
    import shutil
    import tempfile

    import psycopg
    from psycopg import sql

    bindir = postgres_bindir()
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))  # not a long $TMPDIR
    as_user: dict = {}
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(home, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    data = home / "data"
    log = workdir / "postgres.log"
    # Not the caller's locale (which may be missing) nor its PG* settings.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PG", "LC_", "LANG"))} | {"LANG": "C.UTF-8"}
    try:
        with log.open("wb") as handle:
            subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                           stdout=handle, stderr=subprocess.STDOUT, cwd=home, env=env,
                           check=True, timeout=timeout, **as_user)
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n")
        port = free_port()
        assert port != 5432
        handle = log.open("ab")
        # A throwaway cluster: durability off, for speed.
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={home}",
             "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            stdout=handle, stderr=subprocess.STDOUT, cwd=home, env=env,
            start_new_session=True, **as_user)
        handle.close()
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    server = Postgres(proc, url, log, home)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {proc.returncode}:\n"
                                   f"{log.read_text()[-2000:]}")
            try:
                with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                                     dbname="postgres", autocommit=True,
                                     connect_timeout=2) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(
                        sql.Identifier(database)))
                return server
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections on port "
                                       f"{port} within {timeout:.0f} s:\n"
                                       f"{log.read_text()[-2000:]}") from None
                time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
