"""The grid on the local backend, driven through the real command line."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import stopped, wait_until

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))
# Short trials: learning starts at once, evaluations are cheap.


def _run(*args, cwd, **kw):
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          **kw)


def _start_group(tmp_path, quick, steps, workers, gammas=("0.9", "0.95", "0.99")):
    """A group "g", one trial per gamma, in the background; returns it and its status file."""
    proc = subprocess.Popen(
        [EXE, "train", "--gamma", *gammas, "--steps", str(steps), "--workers",
         str(workers), "--group", "g", *quick(steps=None, hidden_sizes=16, eval_every=500),
         "--no-stop-on-solve"], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    return proc, tmp_path / "runs" / "g" / "status.json"


def _result(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_acceptance_grid_of_four(tmp_path):
    proc = _run("-e", "30", "train", "--gamma", "0.9", "0.99", "--batch_size", "32", "64",
                "--workers", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = _result(proc)
    assert res["state"] == "completed"
    assert len(res["trials"]) == 4
    assert {(t["hparams"]["gamma"], t["hparams"]["batch_size"]) for t in res["trials"]} == {
        (0.9, 32), (0.9, 64), (0.99, 32), (0.99, 64)}
    assert all(t["status"] == "completed" and t["episodes"] == 30 for t in res["trials"])
    group = tmp_path / "runs" / res["group"]
    board = json.loads((group / "leaderboard.json").read_text())
    assert len(board) == 4
    assert [r["score_mean"] for r in board] == sorted((r["score_mean"] for r in board),
                                                      reverse=True)
    assert (group / "leaderboard.csv").read_text().startswith("rank,")
    best = json.loads((tmp_path / ".models" / "cartpole-rl-remote.json").read_text())
    assert best["trial"] == board[0]["best_trial"] == res["trial"]
    assert (tmp_path / ".models" / "cartpole-rl-remote.h5").read_bytes() == (
        group / res["trial"] / "model.h5").read_bytes()
    # every trial ran in a process of its own
    pids = {json.loads((group / "status.json").read_text())["trials"][t]["pid"]
            for t in ("t000", "t001", "t002", "t003")}
    assert len(pids) == 4 and os.getpid() not in pids
    assert "rank  combination" in proc.stdout


def _running_pid(status_path, trial):
    """The pid of ``trial`` while the status file says it runs, else None."""
    if not status_path.exists():
        return None
    entry = json.loads(status_path.read_text())["trials"][trial]
    return entry["pid"] if entry["status"] == "running" else None


def test_sigkilled_trial_fails_others_complete_then_resume_reruns_it(tmp_path, quick):
    proc, status_path = _start_group(tmp_path, quick, steps=3000, workers=2,
                                     gammas=("0.9", "0.99"))
    victim = wait_until(lambda: _running_pid(status_path, "t000"), "t000 to run")
    # Paused, t000 cannot finish before it is killed, whatever the time the two commands
    # below take on this machine; the group waits for it meanwhile.
    os.kill(victim, signal.SIGSTOP)
    try:
        wait_until(lambda: stopped(victim), "t000's worker to pause")
        # a second process cannot run the same group at the same time
        clash = _run("train", "--resume", "g", cwd=tmp_path)
        assert clash.returncode == 2
        assert "group g is in use by another cartpole process" in clash.stderr
        # readable from "another terminal" while it runs
        shown = _run("status", "g", cwd=tmp_path)
        assert shown.returncode == 0 and "t000" in shown.stdout and "running" in shown.stdout
    finally:
        os.kill(victim, signal.SIGKILL)  # also when a check failed: nothing stays paused
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["state"] == "partial"
    by_trial = {t["trial"]: t for t in res["trials"]}
    assert by_trial["t000"]["status"] == "failed"
    assert by_trial["t000"]["error"] == "killed by SIGKILL"
    assert by_trial["t001"]["status"] == "completed"
    done_before = (tmp_path / "runs" / "g" / "t001" / "result.json").stat().st_mtime_ns

    again = _run("train", "--resume", "g", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    res = _result(again)
    assert res["state"] == "completed"
    assert all(t["status"] == "completed" for t in res["trials"])
    assert "t000 started" in again.stdout
    assert "t001 started" not in again.stdout
    assert (tmp_path / "runs" / "g" / "t001" / "result.json").stat().st_mtime_ns == done_before


def test_seeds_rank_by_mean_and_keep_top(tmp_path, quick):
    proc = _run("train", "--gamma", "0.9", "0.99", "--seeds", "2", "--steps", "600",
                "--keep-top", "1", "--workers", "2", *quick(steps=None), "--no-stop-on-solve",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = _result(proc)
    assert sorted(t["seed"] for t in res["trials"]) == [0, 0, 1, 1]
    group = tmp_path / "runs" / res["group"]
    models = sorted(group.glob("t*/model.h5"))
    assert [m.parent.name for m in models] == [res["trial"]]
    board = json.loads((group / "leaderboard.json").read_text())
    assert all(r["seeds"] == 2 for r in board)
    assert "±" in proc.stdout
    # pruned models do not make trials look unfinished
    again = _run("train", "--resume", res["group"], cwd=tmp_path)
    assert again.returncode == 0
    assert "started" not in again.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--gama", "0.9"], "Did you mean '--gamma'?"),
    (["train", "--gamma"], "requires an argument"),
    (["train", "--gamma", "0.9:0.99:x"], "bad range '0.9:0.99:x' for gamma"),
    (["train", "--gamma", "0.9", "-2"], "gamma must be in (0, 1], got -2.0"),
    (["train", "--gamma", "0.9:0.99:10", "--batch-size", "16:160:10"],
     "the grid has 100 trials (more than 64); pass --yes to run it"),
    (["--conf-file", "empty.yaml", "train"], "gamma has an empty list of values"),
    (["--conf-file", "typo.yaml", "train"], "did you mean 'learning_rate'?"),
    (["train", "--resume", "nope"], "no group 'nope' in runs/ to resume"),
    (["status", "nope"], "no status for runs/nope"),
    (["--conf-file", "zero.yaml", "train"], "episodes must be an integer >= 1, got 0"),
    (["--conf-file", "threshold.yaml", "train"], "reward_threshold must be a number"),
])
def test_bad_grid_input_is_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "empty.yaml").write_text("gamma: []\n")
    (tmp_path / "typo.yaml").write_text("learning-rat: 0.1\n")
    (tmp_path / "zero.yaml").write_text("episodes: 0\n")
    (tmp_path / "threshold.yaml").write_text("reward-threshold: abc\n")
    proc = _run(*args, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty.yaml", "threshold.yaml", "typo.yaml", "zero.yaml"]


def test_ctrl_c_stops_the_group_and_keeps_finished_trials(tmp_path, quick):
    proc, status_path = _start_group(tmp_path, quick, steps=1000, workers=1)

    def first_done_second_running():
        if not status_path.exists():
            return False
        trials = json.loads(status_path.read_text())["trials"]
        return trials["t000"]["status"] == "completed" and trials["t001"]["status"] == "running"

    # t001 then has a whole trial ahead of it (seconds: its worker imports TensorFlow)
    wait_until(first_done_second_running, "t000 completed and t001 running")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    res = json.loads(out.strip().splitlines()[-1])
    states = {t["trial"]: t["status"] for t in res["trials"]}
    assert states["t000"] == "completed"
    assert states["t001"] == "interrupted"
    assert states["t002"] == "pending"
    assert json.loads(status_path.read_text())["state"] == "interrupted"
    assert (tmp_path / ".models" / "cartpole-rl-remote.h5").exists()
    # the interrupted worker was stopped: no process of the group is left
    pid = json.loads(status_path.read_text())["trials"]["t001"]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
