"""Seldon's own Python client (``SeldonClient`` from .venv-seldon) against `cartpole serve`.

The client runs in seldon-core's environment, as a user of Seldon would run it: in
microservice mode it posts form data ``json=...`` to ``/predict`` and ``/send-feedback``;
in gateway mode it posts JSON to ``/seldon/<namespace>/<deployment>/api/v1.0/...``.
"""

import json
import subprocess

import numpy as np
import pytest

from cartpole.serving.policy import ServedPolicy
from tests.servers import SELDON_VENV, cartpole_serve, free_port

pytestmark = pytest.mark.slow  # starts `cartpole serve` and seldon-core's Python

OBS = np.random.default_rng(5).normal(0, 0.5, (8, 4)).round(5)

PROBES = r"""
import json, sys
import numpy as np
from seldon_core.seldon_client import SeldonClient

endpoint, grpc_endpoint = sys.argv[1], sys.argv[3]
obs = np.array(json.loads(sys.argv[2]))
out = {}
sc = SeldonClient(microservice_endpoint=endpoint, transport="rest")
r = sc.microservice(data=obs, method="predict", payload_type="ndarray")
out["micro_predict"] = [r.success, r.msg, r.response and list(r.response.data.ndarray)]
r = sc.microservice(data=obs, method="predict", payload_type="tensor")
out["micro_predict_tensor"] = [r.success, r.msg, r.response and list(r.response.data.ndarray)]
fb = sc.microservice_feedback(prediction_request=r.request,
                              prediction_response=r.response, reward=1.0)
out["micro_feedback"] = [fb.success, fb.msg]
for namespace in ("default", None):
    gw = SeldonClient(deployment_name="cartpole", namespace=namespace,
                      gateway_endpoint=endpoint, gateway="ambassador", transport="rest",
                      client_return_type="proto")
    r = gw.predict(data=obs, payload_type="ndarray")
    out[f"gateway_predict_{namespace}"] = [
        r.success, r.msg, r.response and list(r.response.data.ndarray)]
    fb = gw.feedback(prediction_request=r.request, prediction_response=r.response,
                     reward=1.0)
    out[f"gateway_feedback_{namespace}"] = [fb.success, fb.msg]
sc = SeldonClient(microservice_endpoint=grpc_endpoint, transport="grpc")
r = sc.microservice(data=obs, method="predict", payload_type="tensor")
out["micro_grpc_predict"] = [r.success, r.msg, r.response and [
    [v] for v in r.response.data.tensor.values]]
fb = sc.microservice_feedback(prediction_request=r.request,
                              prediction_response=r.response, reward=1.0)
out["micro_grpc_feedback"] = [fb.success, fb.msg]
gw = SeldonClient(deployment_name="cartpole", namespace="default",
                  gateway_endpoint=grpc_endpoint, gateway="ambassador", transport="grpc",
                  client_return_type="proto")
r = gw.predict(data=obs, payload_type="tensor")
out["gateway_grpc_predict"] = [r.success, r.msg, r.response and [
    [v] for v in r.response.data.tensor.values]]
fb = gw.feedback(prediction_request=r.request, prediction_response=r.response, reward=1.0)
out["gateway_grpc_feedback"] = [fb.success, fb.msg]
print(json.dumps(out, default=lambda v: json.loads(
    __import__("google.protobuf.json_format").protobuf.json_format.MessageToJson(v))))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_file):
    grpc_port = free_port()
    served = cartpole_serve(tmp_path_factory.mktemp("serve"), str(model_file),
                            "--grpc-port", str(grpc_port))
    served.grpc_port = grpc_port
    yield served
    served.stop()


def test_every_seldon_client_probe_succeeds_over_rest_and_grpc(server, model_file):
    python = SELDON_VENV / "bin" / "python"
    assert python.exists(), f"{python} is missing: run `make seldon-venv`"
    endpoint = server.url.split("//")[1]
    proc = subprocess.run([str(python), "-c", PROBES, endpoint, json.dumps(OBS.tolist()),
                           f"127.0.0.1:{server.grpc_port}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = ServedPolicy.load(model_file).network.q_values(OBS).argmax(1).tolist()
    assert set(results) == {"micro_predict", "micro_predict_tensor", "micro_feedback",
                            "gateway_predict_default", "gateway_feedback_default",
                            "gateway_predict_None", "gateway_feedback_None",
                            "micro_grpc_predict", "micro_grpc_feedback",
                            "gateway_grpc_predict", "gateway_grpc_feedback"}
    for probe, (success, message, *answer) in results.items():
        assert success, f"{probe}: {message}"
        if answer:
            assert [int(row[0]) for row in answer[0]] == expected, probe


def test_cartpole_run_plays_over_grpc(server):
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("cartpole"))
    proc = subprocess.run([exe, "-e", "3", "run", "--grpc-client", "--port",
                           str(server.grpc_port)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["episodes"] == 3
