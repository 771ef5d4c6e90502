"""The compose visdom service's own command and environment, run here as a process:
its healthcheck's page answers with login on, nothing else does without logging in,
and the trainer's credentials log in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.servers import free_port, start
from tests.stacks.compose import mounts, services

pytestmark = pytest.mark.slow  # every test here starts a process


def _login_supported() -> bool:
    from cartpole.metrics.visdom.server import _parser

    return "--enable-login" in _parser().format_help()


@pytest.fixture(scope="module")
def stack():
    return services("visdom")


@pytest.fixture(scope="module")
def server(stack, tmp_path_factory):
    if not _login_supported():
        pytest.skip("cartpole.metrics.visdom.server has no --enable-login yet")
    svc = stack["visdom"]
    cmd = list(svc["command"])
    work = tmp_path_factory.mktemp("visdom")
    volume = next(iter(mounts(svc)))
    port = free_port()
    # The same command with the container's volume, port and bind address moved here.
    swaps = {"--port": str(port), "--host": "127.0.0.1", "--env-path": str(work / "env")}
    for i, arg in enumerate(cmd[:-1]):
        if arg in swaps:
            assert arg != "--env-path" or cmd[i + 1] == volume
            cmd[i + 1] = swaps[arg]
    assert cmd[0] == "python"
    cmd[0] = sys.executable
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    proc = start(cmd, f"http://127.0.0.1:{port}", work / "visdom.log", "/", timeout=60,
                 env={**env, "HOME": str(work)})
    yield proc, port
    proc.stop()


def _status(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_healthcheck_gets_the_login_page(server, stack):
    _, port = server
    test = stack["visdom"]["healthcheck"]["test"]
    url = test[-1].replace("localhost:8097", f"127.0.0.1:{port}")
    assert _status(url) == 200
    if shutil.which("wget"):  # the healthcheck's own command, as the container runs it
        out = subprocess.run([*test[1:-1], url], capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr


def test_nothing_else_answers_without_logging_in(server):
    _, port = server
    # Visdom refuses calls of a client that has not logged in with 400.
    assert _status(f"http://127.0.0.1:{port}/env_state", data=b"{}") == 400
    assert _status(f"http://127.0.0.1:{port}/win_data",
                   data=b'{"eid": "main", "win": null}') == 400


def _client(port: int, username: str, password: str):
    import visdom

    return visdom.Visdom(server="http://127.0.0.1", port=port, username=username,
                         password=password, use_incoming_socket=False,
                         raise_exceptions=True)


def test_the_trainers_credentials_log_in_and_a_wrong_password_does_not(server, stack):
    _, port = server
    env = stack["trainer-visdom"]["environment"]
    client = _client(port, env["VISDOM_USERNAME"], env["VISDOM_PASSWORD"])
    assert isinstance(client.get_env_list(), list)
    with pytest.raises(RuntimeError, match="Authentication failed"):
        _client(port, env["VISDOM_USERNAME"], env["VISDOM_PASSWORD"] + "x").get_env_list()
