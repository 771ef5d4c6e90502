"""scaffold/env.py, which `make env` runs: the stacks' .env with generated passwords,
mode 600, never overwriting what is there, never printing a secret."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stacks.compose import ENV_SCRIPT, ROOT, env_values

pytestmark = pytest.mark.slow  # every test here starts a process

PASSWORDS = ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "CARTPOLE_ES_PASSWORD",
             "MLFLOW_TRACKING_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "VISDOM_PASSWORD")
NAMES = {"MLFLOW_TRACKING_USERNAME": "admin", "VISDOM_USERNAME": "cartpole"}


def _run(path: Path) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, str(ENV_SCRIPT), str(path)], capture_output=True,
                         text=True, timeout=60, env={"PATH": os.environ.get("PATH", "")})
    assert out.returncode == 0, out.stderr
    return out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _shows_none_of(out: subprocess.CompletedProcess, values) -> None:
    for value in values:
        assert value not in out.stdout and value not in out.stderr


def test_a_new_env_file_is_private_and_holds_every_credential(tmp_path):
    path = tmp_path / ".env"
    out = _run(path)
    assert _mode(path) == 0o600
    env = env_values(path)
    assert set(env) == set(PASSWORDS) | set(NAMES)
    for key, value in NAMES.items():
        assert env[key] == value
    generated = [env[key] for key in PASSWORDS]
    for value in generated:
        assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", value)
    assert len(set(generated)) == len(generated)
    _shows_none_of(out, generated)
    for key in PASSWORDS:  # it names what it wrote
        assert key in out.stdout
    # The opt-in is there, commented out, with a word on what it does.
    text = path.read_text()
    assert re.search(r"^# BIND_ADDRESS=127\.0\.0\.1$", text, re.M)
    assert "0.0.0.0" in text and "24224" in text


def test_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / ".env"
    _run(path)
    before = path.read_text()
    out = _run(path)
    assert path.read_text() == before
    assert "nothing changed" in out.stdout
    _shows_none_of(out, env_values(path).values())


def test_values_the_user_set_stay_and_missing_keys_are_added(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# mine\nVISDOM_PASSWORD=my-own-visdom-password-1234\n"
                    "BIND_ADDRESS=0.0.0.0\nCOMPOSE_PROJECT_NAME=lab\n"
                    "MLFLOW_TRACKING_USERNAME=ops")  # no newline at the end
    path.chmod(0o644)
    out = _run(path)
    env = env_values(path)
    assert env["VISDOM_PASSWORD"] == "my-own-visdom-password-1234"
    assert env["MLFLOW_TRACKING_USERNAME"] == "ops"
    assert env["BIND_ADDRESS"] == "0.0.0.0" and env["COMPOSE_PROJECT_NAME"] == "lab"
    assert set(PASSWORDS) | set(NAMES) <= set(env)
    assert path.read_text().startswith("# mine\nVISDOM_PASSWORD=my-own-visdom-password-1234\n")
    # BIND_ADDRESS is set: no second, commented one
    assert "# BIND_ADDRESS" not in path.read_text()
    assert _mode(path) == 0o600
    added = [env[key] for key in PASSWORDS if key != "VISDOM_PASSWORD"]
    _shows_none_of(out, [*added, "my-own-visdom-password-1234"])
    assert "VISDOM_PASSWORD" not in out.stdout.split("added", 1)[1]


def test_a_key_added_later_to_the_script_reaches_an_old_file(tmp_path):
    path = tmp_path / ".env"
    _run(path)
    lines = [line for line in path.read_text().splitlines()
             if not line.startswith("MLFLOW_FLASK_SERVER_SECRET_KEY=")]
    path.write_text("\n".join(lines) + "\n")
    kept = env_values(path)
    _run(path)
    env = env_values(path)
    assert {k: env[k] for k in kept} == kept
    assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", env["MLFLOW_FLASK_SERVER_SECRET_KEY"])


def test_an_existing_file_is_made_private(tmp_path):
    path = tmp_path / ".env"
    _run(path)
    path.chmod(0o644)
    out = _run(path)
    assert _mode(path) == 0o600 and "600" in out.stdout


def test_values_that_will_not_work_are_named_not_shown(tmp_path):
    path = tmp_path / ".env"
    path.write_text('VISDOM_PASSWORD="has spaces and $dollars"\nELASTIC_PASSWORD=\n')
    out = _run(path)
    assert "VISDOM_PASSWORD" in out.stderr and "ELASTIC_PASSWORD is empty" in out.stderr
    assert "dollars" not in out.stdout + out.stderr
    assert env_values(path)["ELASTIC_PASSWORD"] == ""  # warned about, not changed


def _make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The shared venv is taken as it is (docker-visdom's fallback, `make visdom`, needs it).
    venv = Path(sys.executable).parents[1]
    return subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"),
                           f"PYTHON={sys.executable}", f"VENV={venv}", "-o",
                           f"{venv}/.installed", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_make_env_writes_dot_env_here(tmp_path):
    out = _make("env", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert _mode(tmp_path / ".env") == 0o600
    _shows_none_of(out, env_values(tmp_path / ".env").values())


@pytest.mark.parametrize("target", ["train-docker", "docker-visdom", "train-docker-visdom",
                                    "train-docker-efk", "train-docker-mlflow",
                                    "train-docker-modeldb", "docker-down"])
def test_every_compose_target_writes_dot_env_first(target, tmp_path):
    # docker-visdom's fallback runs `make visdom` even under -n: the files its venv rule
    # looks at must be there.
    for name in ("pyproject.toml", "setup.py", "constraints"):
        (tmp_path / name).symlink_to(ROOT / name)
    out = _make("-n", target, "COMPOSE=docker-compose", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert str(ENV_SCRIPT) in first and first.endswith(" .env && touch .env")
    # Once .env is there and newer than the script, it is not rewritten.
    (tmp_path / ".env").write_text("")
    out = _make("-n", target, "COMPOSE=docker-compose", cwd=tmp_path)
    assert str(ENV_SCRIPT) not in out.stdout


def test_dot_env_is_never_committed():
    out = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, timeout=30)
    assert out.returncode == 0, ".env is not in .gitignore"
