"""The fork server behind the local backend: one fresh child per trial, a crash ends one
trial only, and children do not outlive their runner."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts processes

EXE = str(Path(sys.executable).with_name("cartpole"))


def _start(tmp_path, quick, steps, gammas=("0.9", "0.99")):
    proc = subprocess.Popen(
        [EXE, "train", "--gamma", *gammas, "--steps", str(steps), "--workers", "2",
         "--group", "g", *quick(steps=None, hidden_sizes=16, eval_every=500),
         "--no-stop-on-solve"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    return proc, tmp_path / "runs" / "g"


def _running_pids(group):
    def both():
        try:
            trials = json.loads((group / "status.json").read_text())["trials"]
        except (OSError, ValueError):
            return None
        if all(t.get("status") == "running" and t.get("pid") for t in trials.values()):
            evaluated = all((group / t / "events.jsonl").exists()
                            and '"event":"eval"' in (group / t / "events.jsonl").read_text()
                            for t in trials)
            return {t: v["pid"] for t, v in trials.items()} if evaluated else None
        return None

    return wait_until(both, "both trials running and evaluated")


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _parent(pid):
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_each_trial_is_a_child_of_its_own_that_a_crash_ends_alone(tmp_path, quick):
    proc, group = _start(tmp_path, quick, steps=2_000_000)
    try:
        pids = _running_pids(group)
        assert len(set(pids.values())) == 2 and proc.pid not in pids.values()
        server = {_parent(pid) for pid in pids.values()}
        assert len(server) == 1 and server != {proc.pid}  # forked by the server, not the runner
        assert all(os.getpgid(pid) == pid for pid in pids.values())  # a session of its own
        os.kill(pids["t000"], signal.SIGKILL)  # a hard crash of one trial
        wait_until(lambda: not _alive(pids["t000"]), "t000's process gone")
        assert _alive(pids["t001"])  # the other trial trains on
        os.kill(pids["t001"], signal.SIGTERM)  # then stops as on Ctrl-C, keeping its model
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    res = json.loads(out.strip().splitlines()[-1])
    states = {t["trial"]: t for t in res["trials"]}
    assert states["t000"]["status"] == "failed", err[-2000:]
    assert "SIGKILL" in states["t000"]["error"]
    assert states["t001"]["status"] in ("completed", "interrupted")
    assert (group / "t001" / "model.h5").exists()


def test_children_stop_when_the_runner_dies(tmp_path, quick):
    proc, group = _start(tmp_path, quick, steps=2_000_000)
    try:
        pids = _running_pids(group)
        proc.kill()  # no chance to stop its trials itself
        proc.wait()
        wait_until(lambda: not any(_alive(pid) for pid in pids.values()),
                   "every trial process to stop after its runner died")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids.values() if "pids" in locals() else ():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    # They stopped as on SIGTERM: each kept its best model so far and wrote its result.
    for trial in pids:
        result = json.loads((group / trial / "result.json").read_text())
        assert result["status"] == "interrupted"
        assert (group / trial / "model.h5").exists()


def test_a_server_started_ahead_of_its_trials_stops_on_close_even_if_none_ran():
    from cartpole.grid.backends.local import LocalBackend

    backend = LocalBackend(workers=2)
    backend.start()  # the runner starts it before the study opens, which may fail
    server = backend._server
    assert server is not None and _alive(server.pid)
    backend.start()
    assert backend._server is server  # started once
    backend.close()
    assert not _alive(server.pid) and backend._server is None
    backend.close()  # closing twice is harmless
