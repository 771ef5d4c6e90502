"""polyaxon/: the polyaxonfiles through Polyaxon's own checker and grid expansion, and
the entry running a real short trial with Polyaxon's tracking client, offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cartpole.cli import cli
from cartpole.grid.spec import expand, parse_values

ROOT = Path(__file__).parents[2]
FOLDER = ROOT / "polyaxon"
VENV = Path(os.environ.get("POLYAXON_VENV", ROOT / ".venv-polyaxon"))
PY, POLYAXON = VENV / "bin" / "python", VENV / "bin" / "polyaxon"
FILES = sorted(p.name for p in FOLDER.glob("*.yaml"))
GRIDS = [f for f in FILES if yaml.safe_load((FOLDER / f).read_text()).get("matrix")]
CARTPOLE = str(Path(sys.executable).with_name("cartpole"))


# Only the tests that run Polyaxon use it (all slow): `make test-fast` needs no .venv-polyaxon.
@pytest.fixture(scope="module")
def _venv():
    assert POLYAXON.exists(), f"{VENV} is missing: `make polyaxon-venv` creates it"


def _check(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(POLYAXON), "check", "-f", str(path), *args], cwd=path.parent,
                          capture_output=True, text=True, timeout=120)


def test_there_are_a_component_and_grids():
    assert "trial.yaml" in FILES and "grid.yaml" in GRIDS and len(GRIDS) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
@pytest.mark.usefixtures("_venv")
def test_polyaxon_check_passes(name):
    out = _check(FOLDER / name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Polyaxonfile valid" in out.stdout


@pytest.mark.slow
@pytest.mark.usefixtures("_venv")
def test_polyaxon_check_rejects_a_bad_value(tmp_path):
    for name in FILES:
        (tmp_path / name).write_text((FOLDER / name).read_text())
    bad = (FOLDER / "grid.yaml").read_text().replace("steps: {value: 50000}",
                                                     "steps: {value: fifty}")
    (tmp_path / "grid.yaml").write_text(bad)
    out = _check(tmp_path / "grid.yaml")
    assert out.returncode != 0 and "fifty" in out.stdout + out.stderr


EXPAND = """
import json, sys
from polyaxon._polyaxonfile import check_polyaxonfile
from hypertune.search_managers.grid_search.manager import GridSearchManager
op = check_polyaxonfile(polyaxonfile=sys.argv[1], verbose=False)
print(json.dumps({"concurrency": op.matrix.concurrency,
                  "trials": GridSearchManager(op.matrix).get_suggestions()}))
"""


def _polyaxon_trials(name: str) -> dict:
    out = subprocess.run([str(PY), "-c", EXPAND, name], cwd=FOLDER, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ours(matrix: dict) -> list[dict]:
    """What `cartpole train --NAME VALUES...` expands to, for the same values."""
    grid = {}
    for name, param in matrix["params"].items():
        # choice is a list of values; linspace "start:stop:count" is our range syntax.
        assert param["kind"] in ("choice", "linspace"), param
        grid[name] = parse_values(name, param["value"])
    return [{n: getattr(hp, n) for n in grid} for hp in expand(grid)]


def _key(trial: dict) -> tuple:
    return tuple(sorted((k, round(float(v), 10)) for k, v in trial.items()))


@pytest.mark.slow
@pytest.mark.parametrize("name", GRIDS)
@pytest.mark.usefixtures("_venv")
def test_the_matrix_expands_to_the_trials_our_grid_would(name):
    spec = yaml.safe_load((FOLDER / name).read_text())
    theirs = _polyaxon_trials(name)
    ours = _ours(spec["matrix"])
    assert len(theirs["trials"]) == len(ours) == len({_key(t) for t in ours})
    assert sorted(map(_key, theirs["trials"])) == sorted(map(_key, ours))
    assert 1 <= theirs["concurrency"] == spec["matrix"]["concurrency"]


def _render(template: str, values: dict) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values[m.group(1)]), template)


def test_component_args_are_accepted_by_our_cli():
    comp = yaml.safe_load((FOLDER / "trial.yaml").read_text())
    inputs = {i["name"]: i["value"] for i in comp["inputs"]}
    container = comp["run"]["container"]
    assert container["command"] == ["python", "/app/polyaxon/entry.py"]
    args = [_render(a, inputs) for a in container["args"]]
    ctx = cli.make_context("cartpole", ["train", *args])
    name, *rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    train = cli.get_command(ctx, name)
    params = train.make_context(name, rest, parent=ctx).params
    assert params["gamma"] == ("0.99",) and params["steps"] == 50000
    assert _render(container["image"], inputs) == "cartpole/cartpole-polyaxon:latest"
    # Every value a grid varies or sets is an input of the component.
    for grid in GRIDS:
        spec = yaml.safe_load((FOLDER / grid).read_text())
        assert set(spec["matrix"]["params"]) | set(spec.get("params", {})) <= set(inputs)
        assert spec["pathRef"] == "trial.yaml"


def _entry(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "POLYAXON_OFFLINE": "1", "CARTPOLE": CARTPOLE,
           "POLYAXON_ARTIFACTS_PATH": str(tmp_path / "plx"), "HOME": str(tmp_path)}
    return subprocess.run([str(PY), str(FOLDER / "entry.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "step|timestamp|metric"
    return [line.split("|") for line in lines[1:]]


@pytest.mark.slow
@pytest.mark.usefixtures("_venv")
def test_entry_trains_one_trial_and_reports_it(tmp_path, quick):
    out = _entry(tmp_path, "--gamma", "0.95", *quick(), "--seed", "0")
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    trial = result["trials"][0]
    assert result["group"].startswith("polyaxon-") and trial["hparams"]["gamma"] == 0.95
    run = json.loads((tmp_path / "plx" / "run.plx.json").read_text())
    assert run["status"] == "succeeded"
    outputs = run["outputs"]
    assert outputs["score"] == trial["score"] and outputs["steps"] == 600
    assert outputs["status"] == "completed" and outputs["trial"] == "t000"
    metrics = tmp_path / "plx" / "events" / "metric"
    events = [json.loads(line) for line in
              (tmp_path / trial["dir"] / "events.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    episodes = [e for e in events if e["event"] == "episode"]
    assert [(int(s), float(v)) for s, _, v in _rows(metrics / "eval_mean.plx")] == \
        [(e["step"], e["eval_mean"]) for e in evals]
    assert [(int(s), float(v)) for s, _, v in _rows(metrics / "episode_score.plx")] == \
        [(e["total_steps"], e["score"]) for e in episodes]
    model = tmp_path / "plx" / "outputs" / "model.h5"
    assert model.read_bytes() == (tmp_path / trial["dir"] / "model.h5").read_bytes()


@pytest.mark.slow
@pytest.mark.usefixtures("_venv")
def test_entry_with_bad_input_fails_with_cartpoles_one_line(tmp_path, quick):
    out = _entry(tmp_path, "--gamma", "1.5", *quick(), "--seed", "0")
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "gamma" in errors[0]
    assert "Traceback" not in out.stderr
    run = json.loads((tmp_path / "plx" / "run.plx.json").read_text())
    assert run["status"] == "failed"


@pytest.mark.slow
@pytest.mark.usefixtures("_venv")
def test_entry_without_cartpole_says_so(tmp_path):
    env_path = tmp_path / "bin"
    env_path.mkdir()
    out = subprocess.run([str(PY), str(FOLDER / "entry.py")], cwd=tmp_path,
                         env={"PATH": str(env_path), "POLYAXON_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == \
        "Error: cartpole is not on PATH (set CARTPOLE to its executable)"


@pytest.mark.slow
def test_make_runs_the_grid_with_the_users_image():
    out = subprocess.run(["make", "--no-print-directory", "-n", "-C", str(FOLDER),
                          "gke-polyaxon-cartpole", "DOCKER_ORG=acme", "DOCKER_TAG=v7"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"polyaxon run -f grid\.yaml --project cartpole "
                     r"-P image=acme/cartpole-polyaxon:v7$", out.stdout.strip())
