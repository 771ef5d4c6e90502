"""``CartpoleRuntime`` inside the real ``mlserver start`` (MLServer 1.7.1).

MLServer runs in an environment of its own, ``.venv-mlserver`` (``make mlserver-venv``;
``make test`` builds it), with our package installed there without dependencies. The
server loads the model through ``cartpole.serving.mlserver`` from a model folder laid out
as ``seldon/mlserver/`` shows, and these tests infer through its V2 REST API with plain
HTTP and with tritonclient (HTTP and gRPC), against our numpy policy.

Which MLServer setting: both. mlserver 1.7.1 with uvloop 0.22 or later kills its
parallel inference workers at start and never loads a model, so ``.venv-mlserver`` pins
``uvloop<0.22`` (seldon/mlserver/requirements.txt). Each test runs against two servers:
one with ``"parallel_workers": 0`` (the model runs in the server's own process; the
setting seldon/mlserver/settings.json uses, and the faster one for a model this small),
and one with MLServer's default of one parallel worker process, which loads our runtime
in a worker of its own and would fail again if the uvloop pin went away.
"""

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cartpole.serving.policy import ServedPolicy
from tests.servers import mlserver_start

pytestmark = [pytest.mark.slow,  # starts `mlserver start`
              pytest.mark.xdist_group("mlserver")]  # one server per setting: one worker

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "seldon" / "mlserver"
NAME = json.loads((EXAMPLE / "model-settings.json").read_text())["name"]
OBS = np.random.default_rng(11).normal(0, 0.5, (16, 4)).astype(np.float32)
SETTINGS = {"parallel_workers=0": {"parallel_workers": 0},
            "parallel_workers=1 (default, uvloop<0.22)": {"parallel_workers": 1}}


def _model_dir(root, model_file):
    """A model folder as docs/serving.md makes one (and a bucket holds for Seldon Core 2):
    seldon/mlserver/model-settings.json, unchanged, beside the model and its metadata."""
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "model-settings.json", root)
    shutil.copy(model_file, root / "cartpole-rl-remote.h5")
    shutil.copy(model_file.with_suffix(".json"), root / "cartpole-rl-remote.json")
    return root


def _settings(**overrides):
    """seldon/mlserver/settings.json, with ``overrides`` (mlserver_start adds the ports)."""
    return {**json.loads((EXAMPLE / "settings.json").read_text()), **overrides}


def _request(url, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or "null")  # /ready: no body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or "null")


def _obs_input(obs):
    return {"name": "obs", "datatype": "FP32", "shape": list(obs.shape),
            "data": obs.ravel().tolist()}


@pytest.fixture(scope="module")
def policy(model_file):
    return ServedPolicy.load(model_file)


@pytest.fixture(scope="module", params=list(SETTINGS), ids=list(SETTINGS))
def server(request, tmp_path_factory, model_file):
    root = tmp_path_factory.mktemp("mlserver")
    begin = time.monotonic()
    server = mlserver_start(_model_dir(root / "models", model_file), root,
                            _settings(**SETTINGS[request.param]),
                            ready_path=f"/v2/models/{NAME}/ready")
    server.start_seconds = time.monotonic() - begin  # type: ignore[attr-defined]
    print(f"mlserver start, {request.param}: ready in {server.start_seconds:.1f} s")
    yield server
    server.stop(grace=10)


def test_ready_and_metadata_name_our_tensors(server):
    status, meta = _request(f"{server.url}/v2/models/{NAME}")
    assert status == 200, meta
    assert meta["name"] == NAME
    assert meta["inputs"] == [{"name": "obs", "datatype": "FP32", "shape": [-1, 4]}]
    assert [(t["name"], t["datatype"]) for t in meta["outputs"]] == [
        ("action", "INT64"), ("q_values", "FP32"), ("probabilities", "FP32")]
    assert _request(f"{server.url}/v2/health/ready")[0] == 200


def test_plain_http_infers_the_policys_actions(server, policy):
    status, reply = _request(f"{server.url}/v2/models/{NAME}/infer",
                             {"id": "r1", "inputs": [_obs_input(OBS)]})
    assert status == 200, reply
    assert reply["id"] == "r1" and reply["model_name"] == NAME
    [action] = reply["outputs"]  # only the action unless asked
    assert (action["name"], action["datatype"], action["shape"]) == ("action", "INT64", [16])
    assert action["data"] == policy.act(OBS).tolist()

    status, reply = _request(f"{server.url}/v2/models/{NAME}/infer", {
        "inputs": [_obs_input(OBS)], "parameters": {"temperature": 0.5},
        "outputs": [{"name": "q_values"}, {"name": "probabilities"}, {"name": "action"}]})
    assert status == 200, reply
    out = {o["name"]: o for o in reply["outputs"]}
    assert [o["name"] for o in reply["outputs"]] == ["q_values", "probabilities", "action"]
    q = np.reshape(out["q_values"]["data"], out["q_values"]["shape"])
    np.testing.assert_allclose(q, policy.q_values(OBS), rtol=1e-5, atol=1e-6)
    p = np.reshape(out["probabilities"]["data"], out["probabilities"]["shape"])
    np.testing.assert_allclose(p, policy.probabilities(OBS, 0.5), rtol=1e-5, atol=1e-6)
    assert out["action"]["data"] == policy.act(OBS).tolist()


@pytest.mark.parametrize(("payload", "message"), [
    ({"inputs": [{"name": "obs", "datatype": "FP32", "shape": [2, 3], "data": [0] * 6}]},
     "shape must be [N, 4]"),
    ({"inputs": [{"name": "obs", "datatype": "INT32", "shape": [1, 4], "data": [0] * 4}]},
     "datatype must be FP32"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [0] * 4}]},
     'one input tensor, "obs"'),
    ({"inputs": [{"name": "obs", "datatype": "FP32", "shape": [2, 4], "data": [0] * 4}]},
     "has 4 values"),
    ({"inputs": [_obs_input(OBS[:1])], "outputs": [{"name": "value"}]}, "unknown output"),
    ({"inputs": [_obs_input(OBS[:1])], "outputs": [{"name": "probabilities"}],
      "parameters": {"temperature": 0}}, "temperature must be > 0"),
])
def test_bad_requests_get_the_protocols_error(server, payload, message):
    status, reply = _request(f"{server.url}/v2/models/{NAME}/infer", payload)
    assert status == 400 and message in reply["error"], reply
    assert _request(f"{server.url}/v2/models/{NAME}/ready")[0] == 200  # still serving


def test_tritonclient_http_infers_the_policys_actions(server, policy):
    httpclient = pytest.importorskip("tritonclient.http")
    client = httpclient.InferenceServerClient(url=server.url.split("//")[1])
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(NAME)
        assert client.get_model_metadata(NAME)["inputs"][0]["datatype"] == "FP32"
        # MLServer 1.7's REST API reads no binary tensor data (tritonclient's default,
        # the Inference-Header-Content-Length extension): JSON tensors both ways.
        obs = httpclient.InferInput("obs", list(OBS.shape), "FP32")
        obs.set_data_from_numpy(OBS, binary_data=False)
        result = client.infer(NAME, [obs], outputs=[
            httpclient.InferRequestedOutput("action", binary_data=False),
            httpclient.InferRequestedOutput("q_values", binary_data=False)])
        np.testing.assert_array_equal(result.as_numpy("action"), policy.act(OBS))
        np.testing.assert_allclose(result.as_numpy("q_values"), policy.q_values(OBS),
                                   rtol=1e-5, atol=1e-6)
        with pytest.raises(Exception, match="not found"):
            client.infer("elsewhere", [obs])
    finally:
        client.close()


def test_tritonclient_grpc_infers_the_policys_actions(server, policy):
    grpcclient = pytest.importorskip("tritonclient.grpc")
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc_port}")
    try:
        assert client.is_server_live() and client.is_model_ready(NAME)
        obs = grpcclient.InferInput("obs", list(OBS.shape), "FP32")
        obs.set_data_from_numpy(OBS)
        result = client.infer(NAME, [obs], outputs=[
            grpcclient.InferRequestedOutput("action"),
            grpcclient.InferRequestedOutput("q_values")])
        np.testing.assert_array_equal(result.as_numpy("action"), policy.act(OBS))
        np.testing.assert_allclose(result.as_numpy("q_values"), policy.q_values(OBS),
                                   rtol=1e-5, atol=1e-6)
        bad = OBS[:2].copy()
        bad[1, 2] = np.nan  # JSON has no NaN; gRPC's float contents do
        nan = grpcclient.InferInput("obs", list(bad.shape), "FP32")
        nan.set_data_from_numpy(bad)
        with pytest.raises(Exception, match="finite"):
            client.infer(NAME, [nan])
    finally:
        client.close()


def _break_h5(folder):
    (folder / "cartpole-rl-remote.h5").write_bytes(b"not an HDF5 file")
    return "cartpole-rl-remote.h5: Unable to synchronously open file"


def _mismatch(folder):
    meta = folder / "cartpole-rl-remote.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model_sha256": "0" * 64}))
    return "cartpole-rl-remote.json"


@pytest.mark.parametrize("spoil", [_break_h5, _mismatch], ids=["not-hdf5", "digest-mismatch"])
def test_a_model_that_cannot_load_stops_the_server_with_our_reason(tmp_path, model_file,
                                                                   spoil):
    """A model file that is no HDF5, or a .h5 that its metadata's digest disowns
    (ServedPolicy.load checks the pair): MLServer ends (with exit status 0, in 1.7.1,
    after its /v2/health/ready answers 200 for a moment with no model at all), and its
    log says which file and why."""
    root = _model_dir(tmp_path / "models", model_file)
    reason = spoil(root)
    try:
        server = mlserver_start(root, tmp_path, _settings(), timeout=60,
                                ready_path=f"/v2/models/{NAME}/ready")
    except RuntimeError as exc:
        log = str(exc)
    else:
        server.stop()
        pytest.fail("MLServer served a model that cannot load")
    assert "exited" in log and f"model '{NAME}'" in log and reason in log, log


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_cartpole_run_plays_against_mlserver(server, transport):
    """The agent over V2 with the same summary and exit code as against cartpole serve;
    MLServer has no feedback extension: said once, and the run goes on."""
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("cartpole"))
    port = server.grpc_port if transport == "grpc" else server.url.rsplit(":", 1)[1]
    proc = subprocess.run([exe, "-e", "3", "run", "--protocol", "v2", "--model-name", NAME,
                           "--port", str(port), *(["--grpc-client"] if transport == "grpc"
                                                   else [])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["state"], summary["episodes"], summary["cut_short"]) == ("completed", 3, 0)
    assert summary["requests"] == summary["steps"] > 0
    said = "has no V2 feedback extension" if transport == "rest" else "has no feedback"
    assert proc.stderr.count(said) == 1
