"""docker-compose.yml as Debian's docker-compose resolves it (no Docker engine needed).

Every resolution uses an env file given with ``--env-file`` (by default one that
scaffold/env.py wrote for this test session) and a clean environment, so a .env or a
BIND_ADDRESS the developer happens to have changes nothing here.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_SCRIPT = ROOT / "scaffold" / "env.py"
PROFILES = {
    "train": {"trainer"},
    "visdom": {"visdom", "trainer-visdom"},
    "efk": {"elasticsearch", "kibana", "fluentd", "efk-users", "efk-init", "trainer-efk"},
    "mlflow": {"mlflow", "trainer-mlflow"},
}
# What the Makefile passes (COMPOSE_ENV), with values of our own.
MAKE_VARIABLES = {"CARTPOLE_IMAGE": "acme/cartpole:v7",
                  "CARTPOLE_MLFLOW_IMAGE": "acme/cartpole-mlflow:v7",
                  "CARTPOLE_UID": "1234", "CARTPOLE_GID": "1234"}
DEFAULT = "default"  # config(env_file=DEFAULT): the session's generated .env


def compose_bin() -> str:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: `make system-deps` installs it"
    return exe


def env_script():
    """scaffold/env.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("cartpole_env_script", ENV_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_env(path: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run scaffold/env.py as `make env` does, writing ``path``; then append ``extra``."""
    out = subprocess.run([sys.executable, str(ENV_SCRIPT), str(path)], capture_output=True,
                         text=True, timeout=60, env={"PATH": os.environ.get("PATH", "")})
    assert out.returncode == 0, out.stderr
    if extra:
        with path.open("a") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in extra.items())
    return out


def env_values(path: Path) -> dict[str, str]:
    """The keys and values of an env file."""
    return env_script().read_keys(path.read_text())


_session_dir: tempfile.TemporaryDirectory | None = None


@functools.cache
def default_env_file() -> Path:
    """A .env written by scaffold/env.py once for this process (removed at its exit)."""
    global _session_dir
    _session_dir = tempfile.TemporaryDirectory(prefix="cartpole-compose-env-")
    path = Path(_session_dir.name) / ".env"
    make_env(path)
    return path


def _clean_environ() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def config(profile: str, file: Path = COMPOSE_FILE, env_file: Path | str | None = DEFAULT,
           environ: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``docker-compose -f FILE [--env-file E] --profile P config`` with the variables
    the Makefile passes, plus ``environ``. ``env_file=None`` gives no --env-file: then
    docker-compose reads the .env beside FILE, if there is one."""
    env = {**_clean_environ(), **MAKE_VARIABLES, **(environ or {})}
    args = [compose_bin(), "-f", str(file)]
    if env_file is not None:
        args += ["--env-file", str(default_env_file() if env_file == DEFAULT else env_file)]
    return subprocess.run([*args, "--profile", profile, "config"], cwd=file.parent,
                          capture_output=True, text=True, env=env, timeout=60)


def resolve(profile: str, env_file: Path | str = DEFAULT,
            environ: dict[str, str] | None = None) -> dict[str, dict]:
    """The resolved services that belong to ``profile``."""
    out = config(profile, env_file=env_file, environ=environ)
    assert out.returncode == 0, out.stderr
    every = yaml.safe_load(out.stdout)["services"]
    return {name: svc for name, svc in every.items() if profile in svc.get("profiles", [])}


def services(profile: str) -> dict[str, dict]:
    """The services of ``profile`` with the session's .env (a fresh copy each call)."""
    return copy.deepcopy(_services(profile))


@functools.cache
def _services(profile: str) -> dict[str, dict]:
    return resolve(profile)


def mounts(svc: dict) -> dict[str, dict]:
    """A service's volumes by target, from the short (1.29) or long (v2) syntax."""
    out = {}
    for vol in svc.get("volumes", []):
        if isinstance(vol, str):
            source, target, *mode = vol.split(":")
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            vol = {"type": kind, "source": source, "target": target,
                   "read_only": "ro" in mode}
        out[vol["target"]] = vol
    return out


def ports(svc: dict) -> list[dict]:
    """A service's published ports as ``{host_ip, published, target, protocol}``, from
    1.29's short strings (``127.0.0.1:8097:8097/tcp``) or the long syntax.
    ``host_ip`` is None when the port is published on every interface."""
    out = []
    for port in svc.get("ports", []):
        if isinstance(port, str):
            spec, _, protocol = port.partition("/")
            parts = spec.rsplit(":", 2)
            host_ip = parts[0] if len(parts) == 3 else None
            port = {"host_ip": host_ip, "published": parts[-2] if len(parts) > 1 else None,
                    "target": parts[-1], "protocol": protocol or "tcp"}
        out.append({"host_ip": port.get("host_ip") or None,
                    "published": int(port["published"]) if port.get("published") else None,
                    "target": int(port["target"]),
                    "protocol": port.get("protocol") or "tcp"})
    return out
