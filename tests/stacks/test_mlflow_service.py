"""The compose mlflow service's own command, run here as a process: the trainer's
Host header gets in, a stranger's does not, and a run logged through it lands."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, start
from tests.stacks.compose import mounts, services

pytestmark = [pytest.mark.slow,  # every test here starts a process
              pytest.mark.xdist_group("mlflow-service")]  # one server: one worker

SEARCH = "/ajax-api/2.0/mlflow/experiments/search?max_results=5"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    svc = services("mlflow")["mlflow"]
    cmd = list(svc["command"])
    work = tmp_path_factory.mktemp("mlflow")
    volume = next(iter(mounts(svc)))
    port = free_port()
    # The same command with the container's paths, port and bind address moved here.
    swaps = {"--port": str(port), "--host": "127.0.0.1"}
    for i, arg in enumerate(cmd[:-1]):
        if arg in swaps:
            cmd[i + 1] = swaps[arg]
    cmd = [a.replace(volume + "/", f"{work}/") for a in cmd]
    assert cmd[0] == "mlflow"
    cmd[0] = str(Path(sys.executable).with_name("mlflow"))
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    proc = start([*cmd, "--workers", "1"], f"http://127.0.0.1:{port}", work / "mlflow.log",
                 "/health", timeout=120, env=env)
    yield proc, port, work
    proc.stop()


def _get(port: int, host: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{SEARCH}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            json.load(resp)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_trainer_and_a_browser_get_in_a_stranger_does_not(server):
    _, port, _ = server
    assert _get(port, "mlflow:5000") == 200        # the trainer, inside the compose network
    assert _get(port, f"localhost:{port}") == 200  # a browser on the host
    assert _get(port, "rebinding.example:5000") == 403


def test_a_run_and_its_artifact_land_in_the_volume(server, tmp_path):
    import mlflow

    _, port, work = server
    client = mlflow.MlflowClient(f"http://127.0.0.1:{port}")
    exp = client.create_experiment("compose-check")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "score", 500.0, step=3)
    (tmp_path / "model.h5").write_bytes(b"weights")
    client.log_artifact(run.info.run_id, str(tmp_path / "model.h5"))
    assert client.get_metric_history(run.info.run_id, "score")[0].value == 500.0
    assert (work / "mlflow.db").exists()
    assert [p.read_bytes() for p in (work / "artifacts").rglob("model.h5")] == [b"weights"]
