"""The backends package: picking a backend, and a finished worker's verdict from its files."""

import json

import pytest

from cartpole.grid.backends import Job, collect, make_backend
from cartpole.grid.backends.inprocess import InProcessBackend
from cartpole.grid.backends.local import LocalBackend


def test_one_trial_runs_in_this_process_and_more_in_local_processes():
    single = make_backend("local", 1, workers=4, progress=False)
    assert isinstance(single, InProcessBackend) and single.progress is False
    pool = make_backend("local", 3, workers=2, threads=2)
    assert isinstance(pool, LocalBackend) and (pool.workers, pool.threads) == (2, 2)


def test_ray_is_imported_only_when_asked_for():
    pytest.importorskip("ray")
    from cartpole.grid.backends.ray import RayBackend

    backend = make_backend("ray", 1, workers=3, threads=1, ray_address="auto")
    assert isinstance(backend, RayBackend) and backend.in_flight == 3


def test_collect_takes_only_this_attempts_result(tmp_path):
    result = {"trial": "t000", "status": "interrupted", "score": 7.0, "attempt": "new"}
    (tmp_path / "result.json").write_text(json.dumps(result))
    assert collect(Job("t000", tmp_path, "new"), 130) == {**result, "status": "interrupted"}
    (tmp_path / "model.h5").write_bytes(b"")
    (tmp_path / "error.json").write_text(json.dumps({"error": "boom"}))
    assert collect(Job("t000", tmp_path, "other"), 1) == {
        "status": "failed", "error": "boom; the best model so far stays in place",
        "exit_code": 1}
    assert collect(Job("t000", tmp_path, "other"), -9)["error"].startswith("killed by SIGKILL")
