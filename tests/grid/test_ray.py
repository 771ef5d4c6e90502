"""The same grid on a real local Ray (2 CPUs), leaving no processes or state behind."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

EXE = str(Path(sys.executable).with_name("cartpole"))
GRID = ["-e", "20", "train", "--gamma", "0.9", "0.99", "--batch_size", "32", "64",
        "--workers", "2"]


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


def test_ray_backend_matches_local(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # The backend itself keeps a local Ray private: no token under ~/.ray, and its own
    # temp folder (/tmp/cp-ray-*), removed at the end.
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_TMPDIR", "RAY_AUTH_MODE")}
    env["HOME"] = str(home)
    before = set(Path("/tmp").glob("cp-ray-*"))
    ray_run = subprocess.run([EXE, *GRID, "--backend", "ray", "--group", "r"],
                             cwd=tmp_path, capture_output=True, text=True, env=env,
                             timeout=600)
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]
    deadline = time.monotonic() + 30
    while _processes_mentioning("/tmp/cp-ray-") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_mentioning("/tmp/cp-ray-") == []
    assert set(Path("/tmp").glob("cp-ray-*")) == before
    assert not (home / ".ray").exists()

    local_run = subprocess.run([EXE, *GRID, "--group", "l"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=600)
    assert local_run.returncode == 0, local_run.stderr
    ray_res = json.loads(ray_run.stdout.strip().splitlines()[-1])
    local_res = json.loads(local_run.stdout.strip().splitlines()[-1])

    def trial_set(res):
        return sorted((t["trial"], t["seed"], json.dumps(t["hparams"], sort_keys=True),
                       t["status"]) for t in res["trials"])

    assert trial_set(ray_res) == trial_set(local_res)
    ray_board = json.loads((tmp_path / "runs" / "r" / "leaderboard.json").read_text())
    local_board = json.loads((tmp_path / "runs" / "l" / "leaderboard.json").read_text())
    assert [sorted(r) for r in ray_board] == [sorted(r) for r in local_board]
    for t in ray_res["trials"]:
        trial_dir = tmp_path / "runs" / "r" / t["trial"]
        assert {"model.h5", "metadata.json", "events.jsonl", "result.json"} <= {
            p.name for p in trial_dir.iterdir()}
        assert json.loads((trial_dir / "result.json").read_text())["dir"] == str(
            Path("runs") / "r" / t["trial"])
    # Same seeds, same code, same scores: the backend does not change what is learnt.
    assert {t["trial"]: t["score"] for t in ray_res["trials"]} == {
        t["trial"]: t["score"] for t in local_res["trials"]}
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
