"""Nothing lost silently: undelivered events are reported, events.jsonl failures fail the
trial, and --resume keeps an interrupted trial's best-so-far model until it is beaten."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cartpole.agent.h5 import read_dense_weights
from cartpole.grid.plan import Plan
from cartpole.metrics.visdom.assets import ensure_static_assets
from cartpole.training.artifacts import save_model
from cartpole.training.events import read_events
from tests.servers import Visdom
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))


def _run(args, cwd, **kw):
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          **kw)


def _json_lines(text):
    return json.loads(text.strip().splitlines()[-1])


def _running_pid(group_dir, runner_pid, trial):
    """The pid of ``trial``'s worker once the runner ``runner_pid`` says it runs."""
    try:
        status = json.loads((group_dir / "status.json").read_text())
    except (OSError, ValueError):
        return None
    entry = status["trials"][trial]
    return (entry.get("pid") if status["pid"] == runner_pid and entry["status"] == "running"
            else None)


def _windows(visdom, env):
    try:
        return visdom.windows(env)
    except OSError:  # the env does not exist yet (HTTP 500)
        return None


@pytest.fixture
def visdom(tmp_path):
    ensure_static_assets()
    server = Visdom(tmp_path / "visdom")
    yield server
    server.stop()


def test_a_dead_engine_is_counted_in_the_result_the_leaderboard_and_the_summary(
        visdom, tmp_path, quick):
    visdom.start()
    group_dir = tmp_path / "runs" / "gv"
    proc = subprocess.Popen(
        [EXE, "--metrics-engine", "visdom", "--metrics-config",
         json.dumps({"visdom": {"port": visdom.port}}), "train", "--gamma", "0.9", "0.99",
         "--workers", "2", "--group", "gv", *quick(steps=1500)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The group's windows exist once the runner has opened the group: kill the server
        # for good then, while the trials have hardly started.
        wait_until(lambda: _windows(visdom, "cartpole_gv"), "the group's Visdom windows")
        os.kill(visdom.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    result = _json_lines(out)
    lost = {}
    for trial in ("t000", "t001"):
        record = json.loads((group_dir / trial / "result.json").read_text())
        events = read_events(group_dir / trial / "events.jsonl")
        assert set(record["undelivered"]) == {"visdom"}
        # events.jsonl has every event, some or all of which never reached Visdom
        assert 0 < record["undelivered"]["visdom"] <= len(events)
        lost[trial] = record["undelivered"]["visdom"]
    assert {t["trial"]: t["undelivered"] for t in result["trials"]} == {
        t: {"visdom": n} for t, n in lost.items()}
    assert result["undelivered"] == {"visdom": sum(lost.values())}
    board = json.loads((group_dir / "leaderboard.json").read_text())
    assert {r["best_trial"]: r["undelivered"] for r in board} == {
        t: {"visdom": n} for t, n in lost.items()}
    csv_text = (group_dir / "leaderboard.csv").read_text()
    assert "undelivered" in csv_text.splitlines()[0].split(",")
    for n in lost.values():
        assert f"visdom={n}" in csv_text
    summary = out.strip().splitlines()[-2]
    assert (f"; {sum(lost.values())} events undelivered (visdom); "
            "see events.jsonl of t000, t001") in summary


def test_an_events_file_that_cannot_be_written_fails_the_trial(tmp_path, quick):
    """The worker, as the local backend runs it: events.jsonl on a full disk."""
    trial_dir = tmp_path / "runs" / "g" / "t000"
    trial_dir.mkdir(parents=True)
    from cartpole.training.loop import TrialSpec

    spec = TrialSpec(steps=600)
    (trial_dir / "job.json").write_text(json.dumps(
        {"group": "g", "trial": "t000", "spec": spec.to_dict(), "attempt": "a1"}))
    (trial_dir / "events.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    proc = subprocess.run([sys.executable, "-m", "cartpole.grid.backends.worker", str(trial_dir)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    error = json.loads((trial_dir / "error.json").read_text())["error"]
    assert error.startswith("EventsFileError: cannot write the events file ")
    assert "No space left on device" in error
    assert not (trial_dir / "result.json").exists()
    assert not (trial_dir / "model.h5").exists()


def _fake_pair(trial_dir, score, tag):
    """A valid model pair with recognisable weights and a chosen score."""
    weights = [np.full((4, 8), tag, np.float32), np.zeros(8, np.float32),
               np.full((8, 2), tag, np.float32), np.zeros(2, np.float32)]
    meta = json.loads((trial_dir / "metadata.json").read_text())
    meta.pop("model_sha256", None)
    save_model(trial_dir / "model.h5", trial_dir / "metadata.json", 4, 2, (8,), weights,
               {**meta, "score": score, "confirmed_score": None})
    result = json.loads((trial_dir / "result.json").read_text())
    result.update(status="interrupted", score=score)  # as a Ctrl-C'd attempt leaves it
    (trial_dir / "result.json").write_text(json.dumps(result))
    return (trial_dir / "model.h5").read_bytes()


def test_resume_keeps_the_best_so_far_model_until_a_rerun_beats_it(tmp_path, quick):
    first = _run(["train", "--gamma", "0.9", "0.99", "--workers", "2", "--group", "g",
                  *quick(steps=600)], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    group_dir = tmp_path / "runs" / "g"
    # Two interrupted attempts: t000's best so far scored far above what a rerun reaches,
    # t001's far below.
    strong = _fake_pair(group_dir / "t000", 400.0, 0.5)
    weak = _fake_pair(group_dir / "t001", -1.0, -0.5)
    (group_dir / "t000" / "events.jsonl").write_text('{"event": "earlier attempt"}\n')

    # A rerun that fails (its worker killed at once) leaves the old pair and result.
    proc = subprocess.Popen([EXE, "train", "--resume", "g"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = wait_until(lambda: _running_pid(group_dir, proc.pid, "t000"),
                         "t000's rerun to start")
        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err[-3000:]
    trials = {t["trial"]: t for t in _json_lines(out)["trials"]}
    assert trials["t000"]["status"] == "failed"
    assert trials["t000"]["error"] == "killed by SIGKILL; the best model so far stays in place"
    t000 = group_dir / "t000"
    assert (t000 / "model.h5").read_bytes() == strong
    assert json.loads((t000 / "metadata.json").read_text())["score"] == 400.0
    assert json.loads((t000 / "result.json").read_text())["status"] == "interrupted"
    assert (t000 / "attempts" / "1" / "events.jsonl").read_text() == (
        '{"event": "earlier attempt"}\n')
    plan = Plan.load(group_dir)
    assert not plan.trials[0].is_complete(group_dir)  # still to be finished
    # t001's rerun beat its weak best-so-far, which it replaced
    assert trials["t001"]["status"] == "completed" and "kept" not in trials["t001"]
    assert (group_dir / "t001" / "model.h5").read_bytes() != weak
    assert trials["t001"]["score"] > -1.0

    # A rerun that completes but scores below the best so far keeps the earlier model.
    again = _run(["train", "--resume", "g"], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    result = _json_lines(again.stdout)
    trials = {t["trial"]: t for t in result["trials"]}
    assert trials["t000"]["status"] == "completed"
    assert trials["t000"]["kept"] == "previous"
    assert trials["t000"]["score"] == 400.0
    record = json.loads((t000 / "result.json").read_text())
    assert record["rerun_score"] < 400.0
    assert (t000 / "model.h5").read_bytes() == strong
    # ...and the group publishes it, as the best trial
    assert result["trial"] == "t000" and result["score"] == 400.0
    np.testing.assert_array_equal(
        read_dense_weights(tmp_path / ".models" / "cartpole-rl-remote.h5")[0],
        np.full((4, 8), 0.5, np.float32))
