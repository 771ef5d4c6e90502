"""Seldon's gRPC services of `cartpole serve`, in this process: answers, errors, API key."""

import grpc
import numpy as np
import pytest

from cartpole.protocols import seldon as proto
from cartpole.serving.grpc_server import start_grpc
from cartpole.serving.server import build_app
from tests.servers import free_port

OBS = np.random.default_rng(2).normal(0, 0.5, (5, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def served(model_file):
    app = build_app([model_file], api_key="s3cret")
    port = free_port()
    server = start_grpc(app, "127.0.0.1", port)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield app, channel
    channel.close()
    server.stop(grace=None)


def _predict(channel, message, service="Model", key="s3cret"):
    call = channel.unary_unary(proto.method(service, "Predict"),
                               request_serializer=proto.SeldonMessage.SerializeToString,
                               response_deserializer=proto.SeldonMessage.FromString)
    metadata = [("authorization", f"Bearer {key}")] if key else []
    return call(message, metadata=metadata, timeout=10)


def _tensor(values, shape):
    return proto.SeldonMessage(data=proto.DefaultData(tensor=proto.Tensor(
        shape=list(shape), values=list(map(float, values)))))


@pytest.mark.parametrize("service", ["Seldon", "Model", "Generic"])
def test_predict_on_every_service_matches_the_policy(served, service):
    app, channel = served
    reply = _predict(channel, _tensor(OBS.ravel(), OBS.shape), service)
    expected = app.graph.policies[0].network.q_values(OBS).argmax(1)
    assert list(reply.data.tensor.shape) == [5, 1]
    np.testing.assert_array_equal(np.asarray(reply.data.tensor.values), expected)
    assert reply.meta.tags["model_version"].string_value == app.tags["model_version"]


def test_errors_are_grpc_status_codes(served):
    _, channel = served
    with pytest.raises(grpc.RpcError) as missing:
        _predict(channel, _tensor(OBS.ravel(), OBS.shape), key=None)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as wrong:
        _predict(channel, _tensor(OBS.ravel(), OBS.shape), key="nope")
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as bad:
        _predict(channel, _tensor(OBS.ravel()[:7], (2, 4)))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "shape" in bad.value.details()
