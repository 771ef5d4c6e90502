"""The Dockerfiles: hadolint's verdict, and the structure the docs promise."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parents[2]
DOCKERFILES = ["Dockerfile", "seldon/Dockerfile", "scaffold/efk/Dockerfile"]
HADOLINT = str(Path(sys.executable).with_name("hadolint"))


def _hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name):
    out = _hadolint(ROOT / name)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_hadolint_would_catch_a_careless_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nRUN pip install ray\n")
    out = _hadolint(bad)
    assert out.returncode != 0
    for rule in ("DL3007", "DL3015", "DL3013"):
        assert rule in out.stdout


def _stages(text: str) -> dict[str, str]:
    """Stage name -> its instructions, in order."""
    parts = re.split(r"^FROM\s+", text, flags=re.M)[1:]
    return {re.match(r"\S+\s+AS\s+(\S+)", p, re.I).group(1): p for p in parts}


def _args(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r"^ARG\s+(\w+)=(\S+)", text, flags=re.M):
        found.setdefault(name, []).append(value)
    return found


def test_trainer_image_is_multi_stage_slim_pinned_and_not_root():
    text = (ROOT / "Dockerfile").read_text()
    stages = _stages(text)
    assert list(stages)[-1] == "trainer", "the default target must be the trainer"
    base = _args(text)["PYTHON_IMAGE"]
    assert base == [re.search(r"FROM (python:\S+)", (ROOT / "seldon/Dockerfile").read_text())
                    .group(1)], "one pinned base for both images"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base[0])
    assert stages["trainer"].split("\n", 1)[0].startswith("runtime AS trainer")
    runtime = stages["runtime"]
    assert runtime.startswith("${PYTHON_IMAGE} AS runtime")
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "npm" not in runtime and "build-essential" not in runtime
    for stage in ("runtime", "polyaxon", "mlflow"):  # each ends as a non-root user
        users = re.findall(r"^USER\s+(\S+)", stages[stage], flags=re.M)
        assert users and users[-1].isdigit() and int(users[-1]) > 0, stage


def _extra(name: str) -> list[Requirement]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in meta["optional-dependencies"][name]]


def test_pinned_versions_fit_the_package_ranges():
    args = _args((ROOT / "Dockerfile").read_text())
    assert len(set(args["MLFLOW_VERSION"])) == 1, "client and server stages must agree"
    kuberay = (ROOT / "kuberay/rayjob.yaml").read_text()
    assert f"rayVersion: \"{args['RAY_VERSION'][0]}\"" in kuberay
    ray = next(r for r in _extra("ray") if r.name == "ray")
    assert args["RAY_VERSION"][0] in ray.specifier
    mlflow = next(r for r in _extra("mlflow") if r.name == "mlflow-skinny")
    assert args["MLFLOW_VERSION"][0] in mlflow.specifier


def _copied(text: str) -> list[str]:
    sources = []
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, flags=re.M):
        sources.extend(line.split()[:-1])
    return sources


def _included(path: str, ignore: Path) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    keep = True
    for raw in ignore.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(regex + "(/.*)?", path):
            keep = negate
    return keep


@pytest.mark.parametrize(("dockerfile", "ignore", "context"), [
    ("Dockerfile", ".dockerignore", "."),
    ("scaffold/efk/Dockerfile", "scaffold/efk/.dockerignore", "scaffold/efk"),
])
def test_dockerignore_lets_in_what_is_copied_and_nothing_heavy(dockerfile, ignore, context):
    ctx = ROOT / context
    for src in _copied((ROOT / dockerfile).read_text()):
        assert (ctx / src).exists(), f"{src} is copied but does not exist"
        assert _included(src.rstrip("/"), ROOT / ignore), f"{src} is copied but ignored"
    for heavy in (".venv", ".git", "runs", ".models", "tests", "docs"):
        assert not _included(heavy, ROOT / ignore)
