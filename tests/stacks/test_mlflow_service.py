"""The compose mlflow service's own command, environment and auth config, run here as a
process: nobody gets in without the admin's password, a user without grants sees
nothing, the healthcheck's /health stays open, the trainer's Host header gets in and a
stranger's does not, and a run logged with the trainer's credentials lands."""

from __future__ import annotations

import base64
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


@pytest.fixture(scope="session")
def stack():
    return services("mlflow")


# Session scope: xdist may interleave other modules' tests on this worker, and a module
# fixture would then start the server again for each run of this module's tests.
@pytest.fixture(scope="session")
def server(stack, tmp_path_factory):
    svc = stack["mlflow"]
    cmd = list(svc["command"])
    work = tmp_path_factory.mktemp("mlflow")
    vols = mounts(svc)
    volume = next(t for t, m in vols.items() if m["type"] == "volume")
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
    # The shipped auth config, read from where the service mounts it, with its store
    # moved from the volume to here like the command's paths.
    ini = Path(vols[env["MLFLOW_AUTH_CONFIG_PATH"]]["source"])
    local_ini = work / "basic_auth.ini"
    local_ini.write_text(ini.read_text().replace(f"///{volume}/", f"///{work}/"))
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(local_ini)
    proc = start([*cmd, "--workers", "1"], f"http://127.0.0.1:{port}", work / "mlflow.log",
                 "/health", timeout=120, env=env)
    yield proc, port, work
    proc.stop()


def _trainer_login(stack) -> tuple[str, str]:
    env = stack["trainer-mlflow"]["environment"]
    return env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]


def _call(port: int, path: str, host: str | None = None, auth: tuple[str, str] | None = None,
          body: dict | None = None) -> int:
    headers = {"Host": host or f"localhost:{port}"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(
            ":".join(auth).encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_nobody_gets_in_without_the_admin_password(server, stack):
    _, port, work = server
    user, password = _trainer_login(stack)
    assert _call(port, SEARCH) == 401
    assert _call(port, SEARCH, auth=(user, password + "x")) == 401
    assert _call(port, SEARCH, auth=(user, password)) == 200
    # The users live in the volume, beside the tracking store.
    assert (work / "basic_auth.db").exists()


def test_the_healthcheck_needs_no_password(server, stack):
    _, port, _ = server
    assert _call(port, "/health") == 200
    code = stack["mlflow"]["healthcheck"]["test"][-1]
    assert "localhost:5000/health" in code
    exec(code.replace("localhost:5000", f"127.0.0.1:{port}"), {})  # raises if not 2xx


def test_the_trainer_and_a_browser_get_in_a_stranger_does_not(server, stack):
    _, port, _ = server
    login = _trainer_login(stack)
    assert _call(port, SEARCH, "mlflow:5000", login) == 200  # the trainer, in the network
    assert _call(port, SEARCH, f"localhost:{port}", login) == 200  # a browser on the host
    assert _call(port, SEARCH, "rebinding.example:5000", login) == 403


def test_a_user_without_grants_sees_nothing(server, stack):
    _, port, _ = server
    admin = _trainer_login(stack)
    assert _call(port, "/api/2.0/mlflow/users/create", auth=admin,
                 body={"username": "visitor", "password": "visitor-password-0123"}) == 200
    assert _call(port, "/api/2.0/mlflow/experiments/create", auth=admin,
                 body={"name": "private"}) == 200
    visitor = ("visitor", "visitor-password-0123")
    path = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=private"
    assert _call(port, path, auth=admin) == 200
    assert _call(port, path, auth=visitor) == 403


def test_a_run_logged_with_the_trainers_credentials_lands_in_the_volume(
        server, stack, tmp_path, monkeypatch):
    import mlflow

    _, port, work = server
    for key, value in stack["trainer-mlflow"]["environment"].items():
        if key.startswith("MLFLOW_TRACKING_"):
            monkeypatch.setenv(key, str(value))
    client = mlflow.MlflowClient(f"http://127.0.0.1:{port}")
    exp = client.create_experiment("compose-check")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "score", 500.0, step=3)
    (tmp_path / "model.h5").write_bytes(b"weights")
    client.log_artifact(run.info.run_id, str(tmp_path / "model.h5"))
    assert client.get_metric_history(run.info.run_id, "score")[0].value == 500.0
    assert (work / "mlflow.db").exists()
    assert [p.read_bytes() for p in (work / "artifacts").rglob("model.h5")] == [b"weights"]
