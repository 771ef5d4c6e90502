"""The Open Inference Protocol (V2) over REST, on the ASGI app in this process."""

import json

import numpy as np
import pytest

from cartpole.serving.policy import softmax
from cartpole.serving.server import build_app
from tests.serving.asgi import asgi_request
from tests.serving.test_routes import call

OBS = np.random.default_rng(4).normal(0, 0.5, (6, 4)).astype(np.float32)


def _infer(app, obs=OBS, outputs=None, path="/v2/models/cartpole/infer", **extra):
    request = {"inputs": [{"name": "obs", "datatype": "FP32", "shape": list(obs.shape),
                           "data": obs.ravel().tolist()}], **extra}
    if outputs is not None:
        request["outputs"] = [{"name": name} for name in outputs]
    return call(app, "POST", path, json.dumps(request).encode())


@pytest.fixture(scope="module")
def app(model_file):
    return build_app([model_file])


def test_server_and_model_metadata_and_health(app):
    status, server = call(app, "GET", "/v2")
    assert status == 200 and server["name"] == "cartpole" and "feedback" in server["extensions"]
    assert call(app, "GET", "/v2/health/live") == (200, {"live": True})
    assert call(app, "GET", "/v2/health/ready") == (200, {"ready": True})
    status, meta = call(app, "GET", "/v2/models/cartpole")
    assert status == 200
    assert meta["inputs"] == [{"name": "obs", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"][0] == {"name": "action", "datatype": "INT64", "shape": [-1]}
    version = meta["versions"][0]
    assert call(app, "GET", f"/v2/models/cartpole/versions/{version}/ready") == (
        200, {"name": "cartpole", "ready": True})


def test_infer_gives_the_policys_actions_and_asked_outputs(app):
    q = app.graph.policies[0].network.q_values(OBS)
    status, reply = _infer(app, id="r1")
    assert status == 200 and reply["id"] == "r1" and reply["model_name"] == "cartpole"
    (action,) = reply["outputs"]
    assert action["datatype"] == "INT64" and action["shape"] == [6]
    assert action["data"] == q.argmax(1).tolist()
    status, reply = _infer(app, outputs=["q_values", "probabilities"])
    by_name = {o["name"]: o for o in reply["outputs"]}
    np.testing.assert_allclose(np.reshape(by_name["q_values"]["data"], (6, 2)), q, rtol=1e-6)
    np.testing.assert_allclose(np.reshape(by_name["probabilities"]["data"], (6, 2)),
                               softmax(q, 1.0), rtol=1e-6)


@pytest.mark.parametrize(("request_body", "status", "text"), [
    ({"inputs": [{"name": "obs", "datatype": "INT32", "shape": [1, 4], "data": [1, 2, 3, 4]}]},
     400, "datatype"),
    ({"inputs": [{"name": "obs", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]},
     400, "shape"),
    ({"inputs": [{"name": "obs", "datatype": "FP32", "shape": [2, 4], "data": [1, 2, 3, 4]}]},
     400, "needs 8"),
    ({"inputs": []}, 400, "one input"),
    ({"nothing": 1}, 400, "inputs"),
    ({"inputs": [{"name": "obs", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}],
      "outputs": [{"name": "value"}]}, 400, "unknown output"),
])
def test_bad_requests_get_the_protocols_error_shape(app, request_body, status, text):
    got, reply = call(app, "POST", "/v2/models/cartpole/infer",
                      json.dumps(request_body).encode())
    assert got == status and set(reply) == {"error"} and text in reply["error"]


def test_unknown_models_versions_and_paths_are_404(app):
    assert call(app, "GET", "/v2/models/other")[0] == 404
    assert call(app, "GET", "/v2/models/cartpole/versions/nope")[0] == 404
    assert _infer(app, path="/v2/models/other/infer")[0] == 404
    status, reply = call(app, "GET", "/v2/repository")
    assert status == 404 and "error" in reply
    assert call(app, "DELETE", "/v2/models/cartpole")[0] == 405
    assert call(app, "POST", "/v2/models/cartpole/infer", b"{not json")[0] == 400


def test_a_router_is_one_model_that_names_its_branch_and_learns(model_file):
    app = build_app([model_file, model_file], router="epsilon-greedy", epsilon=0.0, seed=1)
    for _ in range(20):  # reward branch 1 only
        status, reply = _infer(app, obs=OBS[:1])
        routing = reply["parameters"]["routing"]
        assert status == 200 and set(routing) == {"epsilon-greedy"}
        reward = 1.0 if routing["epsilon-greedy"] == 1 else 0.0
        status, _ = call(app, "POST", "/v2/models/cartpole/feedback", json.dumps(
            {"reward": reward, "parameters": {"routing": routing}}).encode())
        assert status == 200
    state = app.graph.bandit.state()
    assert state["mean_reward"] == [0.0, 1.0]  # it learnt from the V2 feedback
    assert state["routed"][1] > state["routed"][0]


def test_api_key_guards_v2_but_not_its_health(model_file):
    app = build_app([model_file], api_key="k")
    assert call(app, "GET", "/v2/health/ready")[0] == 200
    status, reply = _infer(app)
    assert status == 401 and "API key" in reply["error"]


def _binary_call(app, header, blob, length=None):
    body = json.dumps(header).encode()
    status, _, reply = asgi_request(
        app, "POST", "/v2/models/cartpole/infer", body + blob,
        [(b"content-type", b"application/octet-stream"),
         (b"inference-header-content-length", str(len(body) if length is None
                                                  else length).encode())])
    return status, json.loads(reply)


def test_binary_tensor_extension_inputs(app):
    header = {"inputs": [{"name": "obs", "datatype": "FP32", "shape": [6, 4],
                          "parameters": {"binary_data_size": OBS.nbytes}}]}
    status, reply = _binary_call(app, header, OBS.astype("<f4").tobytes())
    expected = app.graph.policies[0].network.q_values(OBS).argmax(1).tolist()
    assert status == 200 and reply["outputs"][0]["data"] == expected
    status, reply = _binary_call(app, header, OBS.astype("<f4").tobytes()[:-4])
    assert status == 400 and "binary" in reply["error"]
    status, reply = _binary_call(app, header, b"", length=10_000)
    assert status == 400 and "does not fit" in reply["error"]


def test_v2_answers_are_counted_like_v1s(model_file):
    app = build_app([model_file, model_file], router="abtest", ratio_a=1.0, seed=0)
    _infer(app, obs=OBS[:3])
    status, text = call(app, "GET", "/metrics")
    assert status == 200
    lines = [line for line in text.splitlines() if line.startswith("cartpole_")]
    actions = sum(float(line.split()[-1]) for line in lines
                  if line.startswith("cartpole_actions_total"))
    assert actions == 3
    assert 'cartpole_routed_total{branch="0"} 1.0' in lines
    assert any(line.startswith('cartpole_requests_total{endpoint="/v2/infer",status="200"}')
               for line in lines)
