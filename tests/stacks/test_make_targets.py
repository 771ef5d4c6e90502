"""The make targets: every one the docs name exists, `make help` lists them all, the
Seldon and KubeRay targets work from the root as from their own folders, and the Docker
targets run the commands the docs describe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "scaffold").rglob("*.md")), *sorted((ROOT / "seldon").rglob("*.md"))]
# `make [-C dir] target`, as the docs write it in code.
MAKE_CALL = re.compile(r"\bmake[ \t]+(?:-C[ \t]+(\S+)[ \t]+)?([a-z][a-z0-9-]*)")
RULE = re.compile(r"^([a-z][a-zA-Z0-9_-]*)\s*:(?!=)", re.M)
# Makefiles by subject that the top-level Makefile includes.
INCLUDED = ["seldon", "kuberay"]


def _make(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def _named_in_docs() -> set[tuple[str, str]]:
    found = set()
    for doc in DOCS:
        code = "\n".join(re.findall(r"`([^`\n]+)`", doc.read_text())
                         + re.findall(r"```.*?\n(.*?)```", doc.read_text(), flags=re.S))
        for folder, target in MAKE_CALL.findall(code):
            found.add((folder or ".", target))
    return found


def test_the_docs_name_make_targets():
    named = _named_in_docs()
    assert {(".", "train"), (".", "test"), (".", "train-docker-efk")} <= named


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "target"), sorted(_named_in_docs()))
def test_every_target_the_docs_name_exists(folder, target):
    out = _make("-n", "-C", folder, target)
    assert out.returncode == 0, out.stderr
    assert "No rule to make target" not in out.stderr


def _rules(folder: str) -> set[str]:
    return set(RULE.findall((ROOT / folder / "Makefile").read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("folder", [".", "polyaxon", *INCLUDED])
def test_help_lists_every_target(folder):
    rules = _rules(folder)
    if folder == ".":
        rules |= {rule for sub in INCLUDED for rule in _rules(sub)}
    out = _make("-C", folder, "help")
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    assert rules <= set(listed), f"not in `make help`: {sorted(rules - set(listed))}"
    assert len(listed) == len(set(listed)), "a target listed twice"


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "target"),
                         sorted((sub, rule) for sub in INCLUDED for rule in _rules(sub)))
def test_included_targets_run_from_the_root_and_from_their_folder(folder, target):
    for args in ([], ["-C", folder]):
        out = _make("-n", *args, target)
        assert out.returncode == 0, out.stderr
        assert "No rule to make target" not in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "target", "variable"), [
    ("seldon", "seldon-render", "SELDON_MODEL_TYPE=router"),
    ("kuberay", "gke-ray-render", "KUBERAY_MANIFEST=rayjob"),
])
def test_a_manifest_renders_the_same_from_the_root_and_from_its_folder(folder, target, variable):
    args = [target, variable, "DOCKER_ORG=acme", "DOCKER_TAG=v7"]
    top, alone = _make(*args), _make("-C", folder, *args)
    assert top.returncode == alone.returncode == 0, top.stderr + alone.stderr
    assert "image: acme/cartpole" in top.stdout and ":v7" in top.stdout
    assert alone.stdout == top.stdout


@pytest.mark.slow
def test_train_docker_efk_runs_the_stack_then_the_init_then_the_trainer():
    out = _make("-n", "train-docker-efk", "DOCKER_ORG=acme", "DOCKER_TAG=v7",
                env={"COMPOSE": "docker-compose"})
    lines = [line for line in out.stdout.splitlines() if "docker-compose" in line]
    assert len(lines) == 3, out.stdout
    up, init, train = lines
    assert all("--profile efk" in line and "CARTPOLE_IMAGE=acme/cartpole:v7" in line
               for line in lines)
    assert up.endswith("up -d elasticsearch kibana fluentd")
    assert init.endswith("run --rm efk-init")
    assert train.endswith("run --rm trainer-efk train --seed 0")


@pytest.mark.slow
def test_train_docker_modeldb_says_mlflow_replaces_it():
    out = _make("-n", "train-docker-modeldb", env={"COMPOSE": "docker-compose"})
    assert "ModelDB" in out.stdout and "replaced by MLflow" in out.stdout
    assert "--profile mlflow up -d mlflow" in out.stdout
    assert "--profile mlflow run --rm trainer-mlflow train" in out.stdout


@pytest.mark.slow
def test_docker_visdom_without_a_docker_engine_starts_a_local_visdom(tmp_path):
    """Really run it: no engine answers at DOCKER_HOST, so a local process serves."""
    port = free_port()
    venv = Path(sys.executable).parents[1]
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    # A folder of its own for runs/, with the files the venv's rule looks at.
    for name in ("pyproject.toml", "setup.py", "constraints"):
        (tmp_path / name).symlink_to(ROOT / name)
    # -o: the shared venv is taken as it is; make must never reinstall it from here.
    out = _make("-f", str(ROOT / "Makefile"), f"VENV={venv}", f"VISDOM_PORT={port}",
                "-o", f"{venv}/.installed", "docker-visdom", cwd=tmp_path, env=env)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "no Docker engine: starting Visdom as a local process instead" in out.stdout
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert resp.status == 200
        assert (tmp_path / "runs/visdom/visdom.pid").exists()
    finally:
        subprocess.run([sys.executable, "-m", "cartpole.metrics.visdom.server", "--stop",
                        "--pid-file", str(tmp_path / "runs/visdom/visdom.pid")],
                       cwd=tmp_path, capture_output=True, timeout=60)
