"""Searches with an Optuna study: pruning, sampled searches, --resume, all with real
`cartpole train` processes (and, in test_search_space.py, the parts that need none)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # real `cartpole train` processes

EXE = str(Path(sys.executable).with_name("cartpole"))
# One combination that learns (gamma 0.99) and ones that cannot look ahead (gamma 0.01):
# by the first rung (the second evaluation, step 3,000) the first scores over 100 and the
# others under 50, on every seed tried, so ASHA stops the others there.
LEARNS_OR_NOT = ["--gamma", "0.99", "0.01", "0.02", "0.03", "--learning-rate", "2e-3",
                 "--steps", "6000", "--eval-every", "1500", "--eval-episodes", "10",
                 "--no-stop-on-solve", "--workers", "1"]


def _train(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "train", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _result(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _study(group_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=group_dir.name,
                             storage=f"sqlite:///{group_dir / 'study.db'}")


def _states(study: optuna.Study) -> dict[str, list[str]]:
    """Each cartpole trial's Optuna trials' states, in order."""
    states: dict[str, list[str]] = {}
    for t in study.get_trials(deepcopy=False):
        states.setdefault(t.user_attrs["trial"], []).append(t.state.name)
    return states


def _interrupt_when(proc: subprocess.Popen, ready, what: str) -> tuple[str, str]:
    """Ctrl-C once ``ready()``, the runner paused so that it lands however fast the
    machine is; the command's output."""
    def check() -> bool:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        return ready()

    wait_until(check, what)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        proc.send_signal(signal.SIGINT)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    return proc.communicate(timeout=120)


def _status_of(group_dir: Path, trial: str) -> str | None:
    try:
        return json.loads((group_dir / "status.json").read_text())["trials"][trial]["status"]
    except (OSError, ValueError, KeyError):
        return None


def test_a_pruned_grid_ends_with_pruned_trials_exit_0_and_a_best_model(tmp_path):
    done = _train(tmp_path, *LEARNS_OR_NOT, "--prune", "asha", "--group", "g")
    assert done.returncode == 0, done.stderr[-3000:]
    result = _result(done)
    statuses = {t["trial"]: t["status"] for t in result["trials"]}
    assert statuses == {"t000": "completed", "t001": "pruned", "t002": "pruned",
                        "t003": "pruned"}
    assert result["state"] == "completed" and result["trial"] == "t000"
    assert (tmp_path / result["model"]).exists()
    group_dir = tmp_path / "runs" / "g"
    for trial in ("t001", "t002", "t003"):
        saved = json.loads((group_dir / trial / "result.json").read_text())
        assert saved["status"] == "pruned" and saved["steps"] == 3000
        assert (group_dir / trial / "model.h5").exists()  # its best so far, kept
        events = (group_dir / trial / "events.jsonl").read_text().splitlines()
        assert json.loads(events[-1])["pruned"] is True
    board = json.loads((group_dir / "leaderboard.json").read_text())
    assert [row["status"] for row in board] == ["completed", "pruned", "pruned", "pruned"]
    assert "(3 of 4 trials pruned)" in done.stdout
    status = json.loads((group_dir / "status.json").read_text())
    assert status["state"] == "completed"
    assert {n: t["status"] for n, t in status["trials"].items()} == statuses
    shown = subprocess.run([EXE, "status", "g"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert "3 pruned" in shown.stdout
    states = _states(_study(group_dir))
    assert states == {"t000": ["COMPLETE"], "t001": ["PRUNED"], "t002": ["PRUNED"],
                      "t003": ["PRUNED"]}
    study = _study(group_dir)
    assert study.best_trial.user_attrs["trial"] == "t000"
    assert study.best_trial.params == {"gamma": 0.99}
    assert max(study.best_trial.intermediate_values) == 6000  # reported at env steps
    # The first rung waited for peers: t000 was not let through unopposed, and on one
    # worker t001 could start only because t000, waiting, left it its worker.
    assert json.loads((group_dir / "t000" / "result.json").read_text())["phases"]["pruning"] > 0
    assert _event(group_dir, "t001", "trial_start")["ts"] < \
        _event(group_dir, "t000", "trial_end")["ts"]
    assert not list(group_dir.glob("t00*/waiting"))


def _event(group_dir: Path, trial: str, name: str) -> dict:
    lines = (group_dir / trial / "events.jsonl").read_text().splitlines()
    return next(e for e in map(json.loads, lines) if e["event"] == name)


def test_resume_of_an_interrupted_pruned_grid_continues(tmp_path):
    group_dir = tmp_path / "runs" / "g"
    # t000 trains on long enough after the first rung (3,000 steps) to be caught running
    longer = ["30000" if a == "6000" else a for a in LEARNS_OR_NOT]
    proc = subprocess.Popen([EXE, "train", *longer, "--prune", "asha", "--group", "g"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    pruned = ("t001", "t002", "t003")  # at the first rung, all at once: t000 goes on

    def ready() -> bool:
        return (all(_status_of(group_dir, t) == "pruned" for t in pruned)
                and _status_of(group_dir, "t000") == "running")

    try:
        _, err = _interrupt_when(proc, ready, "t001-t003 to be pruned while t000 trains on")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    before = {t: (group_dir / t / "result.json").read_text() for t in pruned}

    done = _train(tmp_path, "--resume", "g")
    assert done.returncode == 0, done.stderr[-3000:]
    assert {t["trial"]: t["status"] for t in _result(done)["trials"]} == {
        "t000": "completed", "t001": "pruned", "t002": "pruned", "t003": "pruned"}
    for trial, text in before.items():  # finished trials were not rerun
        assert (group_dir / trial / "result.json").read_text() == text
    states = _states(_study(group_dir))
    assert {t: states[t] for t in pruned} == {t: ["PRUNED"] for t in pruned}
    # t000 was interrupted (FAIL, then its rerun, which passes the first rung again
    # without waiting), unless it had finished by the time the Ctrl-C landed (its
    # process trains on while the runner is paused)
    assert states["t000"] in (["FAIL", "COMPLETE"], ["COMPLETE"])


def test_resume_of_an_interrupted_tpe_search_continues_it(tmp_path):
    group_dir = tmp_path / "runs" / "s"
    args = ["--search", "tpe", "--trials", "4", "--learning-rate", "1e-4:1e-2:log",
            "--gamma", "0.9:0.999", "--batch-size", "32", "64", "--steps", "3000",
            "--eval-every", "1000", "--eval-episodes", "5", "--workers", "1", "--group", "s"]
    proc = subprocess.Popen([EXE, "train", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = _interrupt_when(proc, lambda: _status_of(group_dir, "t001") == "running",
                                   "the second sampled trial to start")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    plan = json.loads((group_dir / "plan.json").read_text())
    sampled = {t["trial"]: t["spec"]["hparams"] for t in plan["trials"]}
    # t002 too if it was sampled already: the next trial is taken while one trains
    assert sorted(sampled) in (["t000", "t001"], ["t000", "t001", "t002"])
    first = (group_dir / "t000" / "result.json").read_text()

    done = _train(tmp_path, "--resume", "s")
    assert done.returncode == 0, done.stderr[-3000:]
    trials = {t["trial"]: t for t in _result(done)["trials"]}
    assert len(trials) == 4 and all(t["status"] in ("completed", "pruned")
                                    for t in trials.values())
    assert (group_dir / "t000" / "result.json").read_text() == first  # not rerun
    for name in set(sampled) - {"t000"}:  # rerun, or run, as it was sampled
        assert trials[name]["hparams"] == sampled[name]
    study = _study(group_dir)
    finished = [t for t in study.get_trials(deepcopy=False)
                if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4
    assert {t.user_attrs["trial"] for t in finished} == set(trials)
    for t in finished:
        assert 1e-4 <= t.params["learning_rate"] <= 1e-2
        assert 0.9 <= t.params["gamma"] <= 0.999 and t.params["batch_size"] in (32, 64)
