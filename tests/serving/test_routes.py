"""Every route seldon-core's microservice answers, on the ASGI app in this process."""

import json
from urllib.parse import urlencode

import numpy as np
import pytest

from cartpole.serving.policy import ServedPolicy
from cartpole.serving.server import build_app
from tests.serving.asgi import asgi_request

OBS = [[0.01, 0.02, 0.03, 0.04], [-0.2, 0.1, 0.05, -0.3]]
MESSAGE = {"data": {"ndarray": OBS}}


def call(app, method, path, body=b"", content_type="application/json", query=""):
    """One request through the app's ASGI interface; (status, decoded body)."""
    status, _, payload = asgi_request(app, method, path, body,
                                      [(b"content-type", content_type.encode())],
                                      query.encode())
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


@pytest.fixture(scope="module")
def app(model_file):
    return build_app([model_file])


@pytest.fixture(scope="module")
def expected(model_file):
    return ServedPolicy.load(model_file).network.q_values(np.asarray(OBS)).argmax(1).tolist()


def _actions(reply):
    return [row[0] for row in reply["data"]["ndarray"]]


@pytest.mark.parametrize("path", ["/api/v1.0/predictions", "/api/v0.1/predictions",
                                  "/predict", "/seldon/ns/dep/api/v1.0/predictions",
                                  "/seldon/dep/api/v1.0/predictions"])
def test_predict_paths_take_a_json_body(app, expected, path):
    status, reply = call(app, "POST", path, json.dumps(MESSAGE).encode())
    assert status == 200 and _actions(reply) == expected


def test_form_field_and_query_carry_the_message_as_seldon_client_sends_it(app, expected):
    form = urlencode({"json": json.dumps(MESSAGE)}).encode()
    status, reply = call(app, "POST", "/predict", form,
                         "application/x-www-form-urlencoded")
    assert status == 200 and _actions(reply) == expected
    status, reply = call(app, "GET", "/predict", query=urlencode({"json": json.dumps(MESSAGE)}))
    assert status == 200 and _actions(reply) == expected
    tensor = {"data": {"tensor": {"shape": [2, 4], "values": [v for row in OBS for v in row]}}}
    status, reply = call(app, "POST", "/api/v0.1/predictions", json.dumps(tensor).encode())
    assert status == 200 and _actions(reply) == expected


def test_a_form_without_its_json_field_is_a_400(app):
    status, reply = call(app, "POST", "/predict", b"data=1", "application/x-www-form-urlencoded")
    assert status == 400 and "json=" in reply["status"]["info"]


@pytest.mark.parametrize("path", ["/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback",
                                  "/seldon/ns/dep/api/v1.0/feedback"])
def test_feedback_paths(app, path):
    feedback = {"request": MESSAGE, "response": {"data": {"ndarray": [[1]]}}, "reward": 1.0}
    status, reply = call(app, "POST", path, urlencode({"json": json.dumps(feedback)}).encode(),
                         "application/x-www-form-urlencoded")
    assert status == 200 and reply["data"] == {"names": [], "ndarray": []}


def test_metadata_health_and_methods(app):
    for path in ("/metadata", "/api/v1.0/metadata"):
        status, meta = call(app, "GET", path)
        assert status == 200
        assert meta["inputs"][0]["schema"]["shape"] == [4]
        assert meta["outputs"][0]["schema"]["names"] == ["action"]
    assert call(app, "GET", "/health/ping") == (200, "pong")
    assert call(app, "GET", "/api/v1.0/health/status")[1]["status"] == "ok"
    # Undeclared methods are refused, on every route
    assert call(app, "TRACE", "/metrics")[0] == 405
    assert call(app, "DELETE", "/docs")[0] == 405
    assert call(app, "GET", "/api/v1.0/predictions")[0] == 405
    assert call(app, "GET", "/nothing")[0] == 404


def test_route_needs_a_router_and_names_a_branch(model_file, app):
    status, reply = call(app, "POST", "/route", json.dumps(MESSAGE).encode())
    assert status == 404 and "no router" in reply["status"]["info"]
    router = build_app([model_file, model_file, model_file], router="epsilon-greedy", seed=3)
    branches = set()
    for _ in range(30):
        status, reply = call(router, "POST", "/route", json.dumps(MESSAGE).encode())
        assert status == 200
        branches.add(reply["data"]["ndarray"][0][0])
    assert branches <= {0, 1, 2} and branches


def test_path_prefix(model_file, expected):
    app = build_app([model_file], path_prefix="/models/cartpole/")
    status, reply = call(app, "POST", "/models/cartpole/predict", json.dumps(MESSAGE).encode())
    assert status == 200 and _actions(reply) == expected
    assert call(app, "GET", "/models/cartpole/health/ping") == (200, "pong")
    assert call(app, "POST", "/predict", json.dumps(MESSAGE).encode())[0] == 200  # still
