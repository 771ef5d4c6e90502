"""docker-compose.yml as Debian's docker-compose resolves it (no Docker engine needed)."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROFILES = {
    "train": {"trainer"},
    "visdom": {"visdom", "trainer-visdom"},
    "efk": {"elasticsearch", "kibana", "fluentd", "efk-init", "trainer-efk"},
    "mlflow": {"mlflow", "trainer-mlflow"},
}


def compose_bin() -> str:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: `make system-deps` installs it"
    return exe


def config(profile: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess:
    """``docker-compose --profile P config`` with the variables the Makefile passes."""
    env = {**os.environ, "CARTPOLE_IMAGE": "acme/cartpole:v7",
           "CARTPOLE_MLFLOW_IMAGE": "acme/cartpole-mlflow:v7",
           "CARTPOLE_UID": "1234", "CARTPOLE_GID": "1234"}
    return subprocess.run([compose_bin(), "-f", str(file), "--profile", profile, "config"],
                          cwd=file.parent, capture_output=True, text=True, env=env, timeout=60)


def services(profile: str) -> dict[str, dict]:
    """The resolved services that belong to ``profile`` (a fresh copy each call)."""
    return copy.deepcopy(_services(profile))


@functools.cache
def _services(profile: str) -> dict[str, dict]:
    out = config(profile)
    assert out.returncode == 0, out.stderr
    every = yaml.safe_load(out.stdout)["services"]
    return {name: svc for name, svc in every.items() if profile in svc.get("profiles", [])}


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
