"""The same grid on a real local Ray (2 CPUs), leaving no processes or state behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cartpole.grid.plan import Plan
from cartpole.training.loop import run_trial
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a process

pytest.importorskip("ray")

EXE = str(Path(sys.executable).with_name("cartpole"))
GRID = ["train", "--gamma", "0.9", "0.99", "--workers", "2"]


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except OSError:
            continue
        if text.encode() in cmdline and state != "Z":
            found.append((pid, cmdline[:120]))
    return found


def test_ray_backend_matches_local(tmp_path, quick):
    home = tmp_path / "home"
    home.mkdir()
    # The backend itself keeps a local Ray private: no token under ~/.ray, and its own
    # temp folder (/tmp/cp-ray-<pid>-*), removed at the end.
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_TMPDIR", "RAY_AUTH_MODE")}
    env["HOME"] = str(home)
    proc = subprocess.Popen([EXE, *GRID, *quick(), "--backend", "ray", "--group", "r"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    out, err = proc.communicate(timeout=600)
    ray_run = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]
    mine = f"/tmp/cp-ray-{proc.pid}-"  # other Rays on this machine are not this test's
    wait_until(lambda: not _processes_mentioning(mine), "the private Ray's processes to end")
    assert list(Path("/tmp").glob(f"cp-ray-{proc.pid}-*")) == []
    assert not (home / ".ray").exists()

    ray_res = json.loads(ray_run.stdout.strip().splitlines()[-1])
    plan = Plan.load(tmp_path / "runs" / "r")
    assert sorted((t["trial"], t["seed"], json.dumps(t["hparams"], sort_keys=True),
                   t["status"]) for t in ray_res["trials"]) == sorted(
        (t.trial, t.spec.seed, json.dumps(t.spec.hparams.to_dict(), sort_keys=True),
         "completed") for t in plan.trials)
    ray_board = json.loads((tmp_path / "runs" / "r" / "leaderboard.json").read_text())
    assert ray_board[0]["best_trial"] == ray_res["trial"] and len(ray_board) == 2
    for t in ray_res["trials"]:
        trial_dir = tmp_path / "runs" / "r" / t["trial"]
        assert {"model.h5", "metadata.json", "events.jsonl", "result.json"} <= {
            p.name for p in trial_dir.iterdir()}
        assert json.loads((trial_dir / "result.json").read_text())["dir"] == str(
            Path("runs") / "r" / t["trial"])
    # Same seeds, same code, same scores: the backend does not change what is learnt. The
    # same trials trained here, in this process, give the scores Ray's workers got.
    here = {t.trial: run_trial(t.spec).best_score for t in plan.trials}
    assert {t["trial"]: t["score"] for t in ray_res["trials"]} == here
    assert ray_res["model"] == ".models/cartpole-rl-remote.h5"


def test_unreachable_cluster_is_a_clean_error(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([EXE, "train", "--backend", "ray", "--ray-address",
                           f"127.0.0.1:{port}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused"]
    assert list(tmp_path.iterdir()) == []


def test_ray_address_from_the_environment_is_joined(tmp_path):
    """Inside a Ray job or a KubeRay pod, $RAY_ADDRESS names the cluster to join."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"}
    proc = subprocess.run([EXE, "train", "--backend", "ray"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused"]
    assert list(tmp_path.iterdir()) == []


def test_a_pruned_grid_on_ray_prunes_through_the_same_study(tmp_path):
    """--backend ray: each task reports to the group's study like a local worker does,
    and the losing combinations end pruned."""
    from tests.grid.test_search import LEARNS_OR_NOT

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_TMPDIR", "RAY_AUTH_MODE")}
    env["HOME"] = str(home)
    done = subprocess.run([EXE, "train", *LEARNS_OR_NOT, "--prune", "asha", "--backend",
                           "ray", "--group", "rp"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {t["trial"]: t["status"] for t in result["trials"]} == {
        "t000": "completed", "t001": "pruned", "t002": "pruned", "t003": "pruned"}
    import optuna

    group_dir = tmp_path / "runs" / "rp"
    study = optuna.load_study(study_name="rp", storage=f"sqlite:///{group_dir / 'study.db'}")
    assert sorted(t.state.name for t in study.get_trials()) == ["COMPLETE", "PRUNED",
                                                                 "PRUNED", "PRUNED"]
