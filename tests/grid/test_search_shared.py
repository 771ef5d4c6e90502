"""Two `cartpole train` commands sharing one study in a real PostgreSQL server (Debian's,
started on a loopback port): together they run the plan once, and no trial twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.servers import postgres_server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # a PostgreSQL server and two `cartpole train` processes

EXE = str(Path(sys.executable).with_name("cartpole"))
# Eight combinations of about a second each, one worker per command. The first command
# is paused (its runner; the trial it runs trains on) until the second has taken a
# trial, so that both take a share however slowly the second starts. It is paused once
# it holds two trials (the one it trains, the next it took ahead): between claims, not
# inside one, where it would hold a row the second needs.
GRID = ["--gamma", "0.9", "0.95", "0.97", "0.99", "--learning-rate", "1e-3", "2e-3",
        "--steps", "5000", "--eval-every", "1000", "--eval-episodes", "5",
        "--no-stop-on-solve", "--workers", "1"]


def _took_a_trial(folder: Path, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    try:
        status = json.loads((folder / "runs" / "shared" / "status.json").read_text())
    except (OSError, ValueError):
        return False
    return any(t["status"] in ("running", "completed") for t in status["trials"].values())


def _running(url: str) -> int:
    study = optuna.load_study(study_name="shared", storage=url)
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))


def _study_has_a_plan(url: str, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    try:
        study = optuna.load_study(study_name="shared", storage=url)
    except KeyError:
        return False
    return "cartpole_plan" in study.user_attrs


def test_two_commands_sharing_a_postgresql_study_split_the_work(tmp_path):
    server = postgres_server(tmp_path / "pg")
    try:
        url = server.url
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first = subprocess.Popen([EXE, "train", *GRID, "--group", "shared", "--storage", url],
                                 cwd=tmp_path / "a", stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        second = None
        try:
            wait_until(lambda: _study_has_a_plan(url, first), "the first command's study")
            wait_until(lambda: _running(url) >= 2, "the first command to take two trials")
            os.kill(first.pid, signal.SIGSTOP)
            try:
                # The second names only the group and the storage: the plan comes from the
                # study.
                second = subprocess.Popen([EXE, "train", "--group", "shared", "--storage", url,
                                           "--workers", "1"], cwd=tmp_path / "b",
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True)
                wait_until(lambda: _took_a_trial(tmp_path / "b", second),
                           "the second command to take a trial")
            finally:
                os.kill(first.pid, signal.SIGCONT)
            second_out, second_err = second.communicate(timeout=600)
            out, err = first.communicate(timeout=600)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert first.returncode == 0, err[-3000:]
        assert second.returncode == 0, second_err[-3000:]
        ran = {}
        for name, stdout in (("a", out), ("b", second_out)):
            result = json.loads(stdout.strip().splitlines()[-1])
            assert len(result["trials"]) == 8
            ran[name] = {t["trial"] for t in result["trials"] if t["status"] == "completed"}
            elsewhere = {t["trial"] for t in result["trials"] if t["status"] == "elsewhere"}
            assert ran[name] | elsewhere == {f"t{i:03d}" for i in range(8)}
            for trial in ran[name]:  # each command keeps the files of what it ran
                assert (tmp_path / name / "runs" / "shared" / trial / "model.h5").exists()
        assert ran["a"] and ran["b"], ran  # both took a share
        assert not ran["a"] & ran["b"]  # no trial twice
        assert ran["a"] | ran["b"] == {f"t{i:03d}" for i in range(8)}  # the plan, once
        assert "joining the study shared" in second_err

        study = optuna.load_study(study_name="shared", storage=url)
        done = [t.user_attrs["trial"] for t in study.get_trials()
                if t.state == optuna.trial.TrialState.COMPLETE]
        assert sorted(done) == [f"t{i:03d}" for i in range(8)]
        plan_b = json.loads((tmp_path / "b" / "runs" / "shared" / "plan.json").read_text())
        plan_a = json.loads((tmp_path / "a" / "runs" / "shared" / "plan.json").read_text())
        assert plan_b["trials"] == plan_a["trials"]
        assert "@127.0.0.1" in plan_a["options"]["search"]["storage"]
    finally:
        server.stop()
