"""The Ray backend keeps the best models so far on Ctrl-C, and lands files atomically."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cartpole.agent.h5 import load_policy
from cartpole.agent.modelfile import read_pair
from cartpole.errors import ModelMismatchError
from cartpole.grid.backends import Job
from cartpole.grid.backends.ray import RayBackend
from tests.waiting import wait_until

EXE = str(Path(sys.executable).with_name("cartpole"))


def _eval_trials(log):
    """The trials that have written at least one evaluation to the shared log engine file."""
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return set()
    return {json.loads(line)["trial"] for line in lines if '"event":"eval"' in line}


@pytest.mark.slow
def test_ctrl_c_keeps_every_trials_best_model_so_far(tmp_path, quick):
    pytest.importorskip("ray")
    log = tmp_path / "events.log"  # the log engine: how the test sees a Ray task's progress
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        [EXE, "--metrics-engine", "log", "--metrics-config",
         json.dumps({"log": {"path": str(log)}}), "train", "--gamma", "0.9", "0.99",
         "--backend", "ray", "--workers", "2", "--group", "r", *quick(steps=1_000_000)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_until(lambda: _eval_trials(log) >= {"t000", "t001"},
                   "an evaluation in both trials", timeout=300)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "interrupted"
    group_dir = tmp_path / "runs" / "r"
    for trial in result["trials"]:
        assert trial["status"] == "interrupted"
        assert trial["score"] is not None  # evaluated before the stop, and kept
        trial_dir = group_dir / trial["trial"]
        record = json.loads((trial_dir / "result.json").read_text())
        assert record["status"] == "interrupted" and record["steps"] < 1_000_000
        assert record["dir"] == str(Path("runs") / "r" / trial["trial"])
        pair = read_pair(trial_dir / "model.h5", settle=0)
        assert pair.metadata["score"] == trial["score"]
    assert result["model"] == ".models/cartpole-rl-remote.h5"
    load_policy(tmp_path / result["model"])
    board = json.loads((group_dir / "leaderboard.json").read_text())
    assert all(row["status"] == "partial" for row in board)


def _files(model, metadata, result):
    return {"model.h5": model, "metadata.json": json.dumps(metadata).encode(),
            "events.jsonl": b'{"event":"trial_end"}\n', "result.json": json.dumps(result).encode()}


@pytest.fixture
def keras_h5(tmp_path):
    import numpy as np

    from cartpole.agent.h5 import save_h5

    weights = [np.ones((4, 8), np.float32), np.zeros(8, np.float32),
               np.ones((8, 2), np.float32), np.zeros(2, np.float32)]
    save_h5(tmp_path / "m.h5", weights)
    return (tmp_path / "m.h5").read_bytes()


def test_landing_publishes_a_checked_pair_and_the_result_last(tmp_path, keras_h5):
    from cartpole.agent.modelfile import sha256_hex

    trial_dir = tmp_path / "runs" / "r" / "t000"
    trial_dir.mkdir(parents=True)
    job = Job("t000", trial_dir, "a1")
    files = _files(keras_h5, {"score": 9.0, "model_sha256": sha256_hex(keras_h5)},
                   {"status": "completed", "attempt": "a1", "score": 9.0, "dir": "/tmp/x"})
    update = RayBackend._land(job, files)
    assert update["status"] == "completed" and update["dir"] == str(trial_dir)
    assert read_pair(trial_dir / "model.h5", settle=0).metadata["score"] == 9.0
    assert sorted(p.name for p in trial_dir.iterdir()) == [
        "events.jsonl", "metadata.json", "model.h5", "result.json"]  # no temporary files


def test_a_model_damaged_on_its_way_back_fails_the_trial_and_keeps_the_old_pair(
        tmp_path, keras_h5):
    from cartpole.agent.modelfile import sha256_hex
    from cartpole.agent.publish import publish_pair_bytes

    trial_dir = tmp_path / "t000"
    publish_pair_bytes(trial_dir / "model.h5", trial_dir / "metadata.json", keras_h5,
                       {"score": 5.0})
    damaged = keras_h5[:-1] + bytes([keras_h5[-1] ^ 1])
    files = _files(damaged, {"score": 9.0, "model_sha256": sha256_hex(keras_h5)},
                   {"status": "completed", "attempt": "a1", "score": 9.0})
    job = Job("t000", trial_dir, "a1")
    with pytest.raises(ModelMismatchError, match="damaged"):
        RayBackend._land(job, files)

    class FakeRay:
        @staticmethod
        def get(ref):
            return files

    updates = []
    RayBackend()._finish(FakeRay, "ref", job, lambda trial, u: updates.append(u))
    assert updates[0]["status"] == "failed" and "damaged" in updates[0]["error"]
    assert read_pair(trial_dir / "model.h5", settle=0).metadata["score"] == 5.0
    assert not (trial_dir / "result.json").exists()
