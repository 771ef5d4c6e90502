"""Our MODEL and ROUTER classes inside the real seldon-core-microservice (1.18.2).

seldon-core runs in an environment of its own, `.venv-seldon` (`make seldon-venv`;
`make test` builds it), with our package installed there without dependencies.
"""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from cartpole.serving.policy import ServedPolicy
from tests.servers import seldon_microservice

pytestmark = pytest.mark.slow  # every test here starts a process


def _post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def model_server(tmp_path, model_file):
    server = seldon_microservice(tmp_path, "cartpole.serving.seldon.CartpoleModel", "MODEL",
                           [{"name": "model_file", "value": str(model_file),
                             "type": "STRING"}])
    yield server
    server.stop()


def test_model_predicts_takes_feedback_and_reports(model_server, model_file):
    obs = np.random.default_rng(5).normal(0, 1, (8, 4)).round(4).tolist()
    status, reply = _post(f"{model_server.url}/api/v1.0/predictions",
                          {"data": {"ndarray": obs}})
    assert status == 200, reply
    actions = [row[0] for row in reply["data"]["ndarray"]]
    assert actions == ServedPolicy.load(model_file).act(obs).tolist()
    assert reply["meta"]["tags"]["score"] == 500.0
    assert {m["key"] for m in reply["meta"]["metrics"]} >= {"cartpole_q_mean",
                                                            "cartpole_action_0_total"}
    status, _ = _post(f"{model_server.url}/api/v1.0/feedback",
                      {"request": {"data": {"ndarray": obs}}, "reward": 1.0})
    assert status == 200
    with urllib.request.urlopen(f"{model_server.url}/health/status", timeout=10) as reply:
        assert json.loads(reply.read())["jsonData"]["status"] == "ok"
    status, reply = _post(f"{model_server.url}/api/v1.0/predictions",
                          {"data": {"ndarray": [[0, 0, 0, "NaN"]]}})
    assert status == 400 and "finite" in reply["status"]["info"]
    assert reply["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    status, reply = _post(f"{model_server.url}/api/v1.0/predictions",
                          {"data": {"ndarray": [[1, 2, 3]]}})
    assert status == 400 and "shape (n, 4)" in reply["status"]["info"]
    status, reply = _post(f"{model_server.url}/api/v1.0/predictions",  # still serving
                          {"data": {"ndarray": obs}})
    assert status == 200


def test_router_learns_from_feedback(tmp_path):
    server = seldon_microservice(tmp_path, "cartpole.serving.seldon.EpsilonGreedyRouter", "ROUTER",
                           [{"name": "n_branches", "value": "3", "type": "INT"},
                            {"name": "epsilon", "value": "0.1", "type": "FLOAT"},
                            {"name": "seed", "value": "0", "type": "INT"}],
                           env={"PREDICTIVE_UNIT_ID": "router"})
    try:
        chosen = []
        request = {"data": {"ndarray": [[0.0, 0.0, 0.0, 0.0]]}}
        for _ in range(1000):
            status, reply = _post(f"{server.url}/route", request)
            assert status == 200, reply
            branch = int(np.ravel(reply["data"]["ndarray"])[0])
            chosen.append(branch)
            status, _ = _post(f"{server.url}/api/v1.0/feedback", {
                "request": request, "reward": 1.0 if branch == 2 else 0.0,
                "response": {"meta": {"routing": {"router": branch}}, **request}})
            assert status == 200
        assert chosen.count(2) / len(chosen) >= 0.85
    finally:
        server.stop()
