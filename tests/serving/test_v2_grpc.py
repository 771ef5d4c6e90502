"""The Open Inference Protocol over gRPC, in this process, driven by tritonclient's gRPC
client (a client nobody here wrote)."""

import json

import numpy as np
import pytest

from cartpole.protocols.inference import CLASSES
from cartpole.serving.grpc_server import start_grpc
from cartpole.serving.server import build_app
from tests.servers import free_port

grpcclient = pytest.importorskip("tritonclient.grpc")
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")

OBS = np.random.default_rng(12).normal(0, 0.5, (32, 4)).astype(np.float32)


def _serve(app):
    port = free_port()
    return start_grpc(app, "127.0.0.1", port), grpcclient.InferenceServerClient(
        f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def served(model_file):
    app = build_app([model_file])
    server, client = _serve(app)
    yield app, client
    client.close()
    server.stop(grace=None)


def test_health_and_metadata(served):
    app, client = served
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("cartpole")
    assert client.is_model_ready("cartpole", app.v2.version)
    meta = client.get_model_metadata("cartpole")
    assert meta.inputs[0].name == "obs" and list(meta.inputs[0].shape) == [-1, 4]
    assert [o.name for o in meta.outputs] == ["action", "q_values", "probabilities"]
    assert "feedback" in client.get_server_metadata().extensions


def test_infer_equals_the_policy(served):
    app, client = served
    obs = grpcclient.InferInput("obs", list(OBS.shape), "FP32")
    obs.set_data_from_numpy(OBS)
    result = client.infer("cartpole", [obs], outputs=[
        grpcclient.InferRequestedOutput("action"), grpcclient.InferRequestedOutput("q_values")])
    q = app.graph.policies[0].network.q_values(OBS)
    np.testing.assert_array_equal(result.as_numpy("action"), q.argmax(1))
    np.testing.assert_allclose(result.as_numpy("q_values").reshape(q.shape), q, rtol=1e-6)


def test_errors_are_status_codes(served):
    from tritonclient.utils import InferenceServerException

    _, client = served
    obs = grpcclient.InferInput("obs", [2, 3], "FP32")
    obs.set_data_from_numpy(np.zeros((2, 3), np.float32))
    with pytest.raises(InferenceServerException, match="shape"):
        client.infer("cartpole", [obs])
    with pytest.raises(InferenceServerException, match="no model"):
        client.get_model_metadata("elsewhere")


def test_a_router_names_its_branch(model_file):
    app = build_app([model_file, model_file], router="abtest", ratio_a=0.0, seed=1)
    server, client = _serve(app)
    try:
        obs = grpcclient.InferInput("obs", [1, 4], "FP32")
        obs.set_data_from_numpy(OBS[:1])
        result = client.infer("cartpole", [obs])
        routing = result.get_response().parameters["routing"].string_param
        assert json.loads(routing) == {"abtest": 1}
    finally:
        client.close()
        server.stop(grace=None)


def test_our_messages_are_the_protocols_bytes():
    """Every message we build parses as tritonclient's generated one, and back."""
    ours = CLASSES["ModelInferResponse"](model_name="m", model_version="v", id="i")
    out = ours.outputs.add(name="action", datatype="INT64", shape=[2])
    out.parameters["p"].bool_param = True
    ours.parameters["routing"].string_param = "{}"
    ours.raw_output_contents.append(np.array([1, 0], "<i8").tobytes())
    theirs = service_pb2.ModelInferResponse.FromString(ours.SerializeToString())
    assert theirs.outputs[0].name == "action" and list(theirs.outputs[0].shape) == [2]
    assert theirs.outputs[0].parameters["p"].bool_param is True
    assert CLASSES["ModelInferResponse"].FromString(theirs.SerializeToString()) == ours
    for name in ("ServerMetadataResponse", "ModelMetadataResponse", "ModelReadyRequest"):
        assert CLASSES[name].DESCRIPTOR.full_name == getattr(service_pb2, name).DESCRIPTOR.full_name
        ours_fields = {(f.name, f.number) for f in CLASSES[name].DESCRIPTOR.fields}
        their_fields = {(f.name, f.number) for f in getattr(service_pb2, name).DESCRIPTOR.fields}
        assert ours_fields == their_fields
