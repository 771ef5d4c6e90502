import numpy as np
import pytest

from cartpole.errors import ConfigError
from cartpole.remote.errors import BadAnswer
from cartpole.remote.rest_client import parse_actions
from cartpole.remote.target import parse_target


@pytest.mark.parametrize(("host", "port", "grpc", "url"), [
    ("localhost", None, False, "http://localhost:9000"),
    ("localhost", None, True, "grpc://localhost:5000"),
    ("10.0.0.5:8080", None, False, "http://10.0.0.5:8080"),
    ("https://gw.example", None, False, "https://gw.example:443"),
    ("http://gw.example:8003/seldon/ns/dep/", None, False,
     "http://gw.example:8003/seldon/ns/dep"),
    ("[::1]", 9001, False, "http://[::1]:9001"),
])
def test_hosts(host, port, grpc, url):
    assert parse_target(host, port, grpc).url(grpc=grpc) == url


def test_deployment_prefix_headers_and_grpc_metadata():
    t = parse_target("gw", 80, deployment="cartpole", namespace="seldon", token="tok")
    assert t.url("/api/v1.0/predictions") == \
        "http://gw:80/seldon/seldon/cartpole/api/v1.0/predictions"
    assert t.headers() == {"Authorization": "Bearer tok"}
    assert t.grpc_metadata() == [("authorization", "Bearer tok"), ("seldon", "cartpole"),
                                 ("namespace", "seldon")]
    assert parse_target("gw", 80, deployment="d").prefix == "/seldon/default/d"
    assert parse_target("gw", 80, path_prefix="api/x/").prefix == "/api/x"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"host": ""}, "empty"),
    ({"host": "gw/x", "path_prefix": "/y"}, "give the path prefix once"),
    ({"host": "gw:notaport"}, "bad port"),
    ({"host": "gw?x=1"}, "not a host name"),
])
def test_bad_targets(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        parse_target(port=None, **kwargs)


@pytest.mark.parametrize("answer", [
    {"data": {"ndarray": [[1], [0]]}},
    {"data": {"ndarray": [1, 0]}},
    {"data": {"names": ["a"], "tensor": {"shape": [2, 1], "values": [1.0, 0.0]}}},
])
def test_actions_from_every_seldon_shape(answer):
    assert parse_actions(answer, 2).tolist() == [1, 0]
    assert parse_actions(answer, 2).dtype == np.int64


@pytest.mark.parametrize(("answer", "message"), [
    ({"status": {"info": "x"}}, "no 'data'"),
    ({"data": {"strData": "x"}}, "neither 'ndarray' nor 'tensor'"),
    ({"data": {"ndarray": [[1]]}}, "sent 2 observation"),
    ({"data": {"ndarray": [[0.5], [1]]}}, "not integers"),
    ({"data": {"ndarray": [["a"], [1]]}}, "not numbers"),
])
def test_answers_that_are_not_actions(answer, message):
    with pytest.raises(BadAnswer, match=message):
        parse_actions(answer, 2)
