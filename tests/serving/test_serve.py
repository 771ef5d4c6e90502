"""`cartpole serve` as a user runs it: a real process on a free port, over HTTP."""

import http.client
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from cartpole.serving.policy import ServedPolicy
from tests.servers import cartpole_serve, free_port

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))


def _serve(tmp_path, *args, env_key=None):
    return cartpole_serve(tmp_path, *args, env={"CARTPOLE_API_KEY": env_key} if env_key else None)


class Client:
    """One keep-alive connection, as a remote agent would hold it."""

    def __init__(self, url, headers=None):
        self.conn = http.client.HTTPConnection(url.split("//")[1], timeout=10)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def call(self, method, path, body=None):
        data = body if isinstance(body, bytes | type(None)) else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=self.headers)
        reply = self.conn.getresponse()
        return reply.status, json.loads(reply.read() or b"null")


@pytest.fixture
def one_model(tmp_path, model_file):
    server = _serve(tmp_path, str(model_file))
    yield server
    server.stop()


def test_predictions_match_the_policy(one_model, model_file):
    client = Client(one_model.url)
    obs = np.random.default_rng(9).normal(0, 1, (16, 4)).round(5).tolist()
    status, reply = client.call("POST", "/api/v1.0/predictions", {"data": {"ndarray": obs}})
    assert status == 200
    assert [r[0] for r in reply["data"]["ndarray"]] == \
        ServedPolicy.load(model_file).act(obs).tolist()
    assert reply["meta"]["tags"]["score"] == 500.0 and "routing" not in reply["meta"]
    status, reply = client.call("POST", "/api/v1.0/predictions?distribution=1&temperature=2",
                                {"data": {"tensor": {"shape": [1, 4],
                                                     "values": [0.1, 0.2, 0.3, 0.4]}}})
    assert status == 200 and len(reply["data"]["q_values"][0]) == 2
    assert sum(reply["data"]["probabilities"][0]) == pytest.approx(1.0)


@pytest.mark.parametrize(("method", "path", "body", "status", "text"), [
    ("POST", "/api/v1.0/predictions", b"", 400, "empty request body"),
    ("POST", "/api/v1.0/predictions", b"{oops", 400, "not valid JSON"),
    ("POST", "/api/v1.0/predictions", {"data": {"ndarray": [[1, 2, 3]]}}, 400, "shape"),
    ("POST", "/api/v1.0/predictions", {"data": {"ndarray": [["a", 1, 2, 3]]}}, 400, "numbers"),
    ("POST", "/api/v1.0/predictions", b'{"data": {"ndarray": [[1, 2, 3, 1e39]]}}', 400,
     "finite"),
    ("POST", "/api/v1.0/predictions", {"rows": []}, 400, "data"),
    ("POST", "/api/v1.0/predictions?mode=wild", {"data": {"ndarray": [[0, 0, 0, 0]]}}, 400,
     "mode"),
    ("POST", "/api/v1.0/predictions", b" " * (2 << 20), 413, "over"),
    ("GET", "/api/v1.0/predictions", None, 405, "takes POST"),
    ("GET", "/nowhere", None, 404, "no endpoint"),
    ("POST", "/api/v1.0/feedback", {"reward": "lots"}, 400, "reward"),
])
def test_bad_input_is_a_4xx_in_seldon_shape_and_serving_goes_on(
        one_model, method, path, body, status, text):
    client = Client(one_model.url)
    got, reply = client.call(method, path, body)
    assert got == status and text in reply["status"]["info"]
    assert reply["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    client = Client(one_model.url)
    assert client.call("POST", "/api/v1.0/predictions",
                       {"data": {"ndarray": [[0, 0, 0, 0]]}})[0] == 200


def test_health_metrics_and_docs(one_model):
    client = Client(one_model.url)
    client.call("POST", "/api/v1.0/predictions", {"data": {"ndarray": [[0, 0, 0, 0]] * 3}})
    assert client.call("GET", "/health/status")[1]["status"] == "ok"
    assert "/api/v1.0/predictions" in client.call("GET", "/openapi.json")[1]["paths"]
    client.conn.request("GET", "/metrics")
    text = client.conn.getresponse().read().decode()
    counts = [float(line.split()[-1]) for line in text.splitlines()
              if line.startswith("cartpole_actions_total")]
    assert sum(counts) == 3


def test_api_key(tmp_path, model_file):
    server = _serve(tmp_path, str(model_file), env_key="s3cret")
    try:
        body = {"data": {"ndarray": [[0, 0, 0, 0]]}}
        assert Client(server.url).call("POST", "/api/v1.0/predictions", body)[0] == 401
        wrong = Client(server.url, {"Authorization": "Bearer nope"})
        assert wrong.call("POST", "/api/v1.0/predictions", body)[0] == 401
        right = Client(server.url, {"Authorization": "Bearer s3cret"})
        assert right.call("POST", "/api/v1.0/predictions", body)[0] == 200
        assert Client(server.url, {"X-API-Key": "s3cret"}).call(
            "POST", "/api/v1.0/predictions", body)[0] == 200
        assert Client(server.url).call("GET", "/health/ping")[0] == 200  # probes stay open
    finally:
        server.stop()


def test_router_converges_to_the_rewarded_branch(tmp_path, model_file):
    server = _serve(tmp_path, "--router", "epsilon-greedy", "--epsilon", "0.1", "--seed", "0",
                    str(model_file), str(model_file), str(model_file))
    try:
        client = Client(server.url)
        request = {"data": {"ndarray": [[0.0, 0.0, 0.0, 0.0]]}}
        chosen = []
        for _ in range(2000):
            status, reply = client.call("POST", "/api/v1.0/predictions", request)
            branch = reply["meta"]["routing"]["epsilon-greedy"]
            chosen.append(branch)
            status, _ = client.call("POST", "/api/v1.0/feedback", {
                "request": request, "response": reply, "reward": float(branch == 2)})
            assert status == 200
        assert chosen.count(2) / len(chosen) >= 0.85
    finally:
        server.stop()


def test_abtest_splits_by_ratio(tmp_path, model_file):
    server = _serve(tmp_path, "--router", "abtest", "--ratio-a", "0.8", "--seed", "1",
                    str(model_file), str(model_file))
    try:
        client = Client(server.url)
        routes = [client.call("POST", "/api/v1.0/predictions",
                              {"data": {"ndarray": [[0, 0, 0, 0]]}})[1]["meta"]["routing"]
                  ["abtest"] for _ in range(1000)]
        assert 0.75 < routes.count(0) / len(routes) < 0.85
    finally:
        server.stop()


@pytest.mark.parametrize(("args", "message"), [
    (["missing.h5"], "cannot load the model"),
    (["{m}", "{m}"], "several models need --router"),
    (["--router", "abtest", "{m}"], "abtest needs exactly two models"),
])
def test_bad_setup_is_one_line(tmp_path, model_file, args, message):
    import subprocess

    args = [a.format(m=model_file) for a in args]
    proc = subprocess.run([EXE, "serve", "--port", str(free_port()), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and message in proc.stderr


def test_the_serving_process_never_loads_tensorflow(one_model):
    maps = Path(f"/proc/{one_model.proc.pid}/maps").read_text()
    assert "tensorflow" not in maps  # its shared libraries would be mapped
    assert "site-packages/numpy" in maps  # the check looks at the right process


def test_busy_ports_are_one_line_and_exit_2(tmp_path, model_file):
    """A port another server holds is refused before anything is said to be served, for
    REST and for gRPC (which would otherwise share it through SO_REUSEPORT)."""
    import subprocess

    grpc_port = free_port()
    first = _serve(tmp_path, str(model_file), "--grpc-port", str(grpc_port))
    try:
        http_port = first.url.rsplit(":", 1)[1]
        for args in (["--port", http_port],
                     ["--port", str(free_port()), "--grpc-port", str(grpc_port)]):
            proc = subprocess.run([EXE, "serve", str(model_file), *args], capture_output=True,
                                  text=True, timeout=60)
            assert proc.returncode == 2, proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
            assert "serving" not in proc.stderr
    finally:
        first.stop()
