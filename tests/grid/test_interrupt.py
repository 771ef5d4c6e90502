"""Ctrl-C in the middle of a grid: the leaderboard and `cartpole status` agree on what
became of every combination; the ones that never started are pending, not failed."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # a real `cartpole train` process

EXE = str(Path(sys.executable).with_name("cartpole"))


def _first_trial_running(group_dir: Path, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    try:
        status = json.loads((group_dir / "status.json").read_text())
    except (OSError, ValueError):
        return False  # not written yet, or between two atomic writes
    return status["pid"] == proc.pid and status["trials"]["t000"]["status"] == "running"


def test_ctrl_c_leaves_the_trials_that_never_started_pending_everywhere(tmp_path, quick):
    group_dir = tmp_path / "runs" / "g"
    # One worker and a long budget: t000 is still training when Ctrl-C comes, and the
    # three other combinations wait their turn.
    proc = subprocess.Popen(
        [EXE, "train", "--gamma", "0.9", "0.95", "0.97", "0.99", "--workers", "1",
         *quick(steps=200_000), "--no-stop-on-solve", "--group", "g"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _first_trial_running(group_dir, proc), "t000 to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "interrupted"

    shown = subprocess.run([EXE, "status", "g", "--json"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    status = {name: t["status"] for name, t in json.loads(shown.stdout)["trials"].items()}
    board = {row["trials"][0]: row for row in
             json.loads((group_dir / "leaderboard.json").read_text())}
    assert sorted(board) == sorted(status) == ["t000", "t001", "t002", "t003"]
    assert status["t000"] == "interrupted"
    assert [status[t] for t in ("t001", "t002", "t003")] == ["pending"] * 3
    for trial in ("t001", "t002", "t003"):
        assert board[trial]["status"] == "pending", board[trial]
        assert board[trial]["score_mean"] is None and board[trial]["seeds"] == 0
    # t000 stopped mid-training: interrupted, or partial once an evaluation had scored it
    expected = "partial" if board["t000"]["best_trial"] else "interrupted"
    assert board["t000"]["status"] == expected
    assert {t["trial"]: t["status"] for t in result["trials"]} == status
    # the summary table on stdout says the same of each combination
    table = [line.split()[-1] for line in out.splitlines()
             if line.split()[:1] in (["1"], ["2"], ["3"], ["4"])]
    assert sorted(table) == sorted(row["status"] for row in board.values())
