"""gRPC with Seldon's protocol, against the real seldon-core-microservice (1.18.2)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cartpole.protocols import seldon as proto
from cartpole.remote.client import RetryPolicy
from cartpole.remote.errors import ServerError, Unreachable
from cartpole.remote.grpc_client import GrpcClient
from cartpole.remote.rest_client import RestClient
from cartpole.remote.target import parse_target
from cartpole.serving.policy import ServedPolicy
from tests.servers import SELDON_VENV, free_port, seldon_microservice

EXE = str(Path(sys.executable).with_name("cartpole"))
OBS = np.random.default_rng(11).normal(0, 1, (64, 4)).round(5)


@pytest.fixture(scope="module")
def microservice(tmp_path_factory, model_file):
    server = seldon_microservice(tmp_path_factory.mktemp("seldon"),
                                 "cartpole.serving.seldon.CartpoleModel", "MODEL",
                                 [{"name": "model_file", "value": str(model_file),
                                   "type": "STRING"}])
    yield server
    server.stop()


def seldon_python(code, data):
    """Run ``code`` in .venv-seldon with seldon-core's own generated classes."""
    proc = subprocess.run([str(SELDON_VENV / "bin" / "python"), "-c", code], input=data,
                          capture_output=True, timeout=60, check=True)
    return proc.stdout


@pytest.mark.slow
def test_our_bytes_are_seldons_messages_and_back():
    message = proto.SeldonMessage(data=proto.DefaultData(
        names=["x"], tensor=proto.Tensor(shape=[2, 2], values=[0.5, -1.0, 2.0, 3.25])))
    message.meta.routing["router"] = 2
    feedback = proto.Feedback(request=message, response=message, reward=0.75)
    out = seldon_python(
        "import sys\n"
        "from seldon_core.proto import prediction_pb2 as pb\n"
        "from google.protobuf import json_format\n"
        "f = pb.Feedback(); f.ParseFromString(sys.stdin.buffer.read())\n"
        "print(json_format.MessageToJson(f))\n",
        feedback.SerializeToString())
    decoded = json.loads(out)
    assert decoded["reward"] == 0.75
    assert decoded["request"]["data"]["tensor"] == {"shape": [2, 2],
                                                    "values": [0.5, -1.0, 2.0, 3.25]}
    assert decoded["response"]["meta"]["routing"] == {"router": 2}


@pytest.mark.slow
def test_seldons_bytes_are_our_messages():
    raw = subprocess.run(
        [str(SELDON_VENV / "bin" / "python"), "-c",
         "import sys\nfrom seldon_core.proto import prediction_pb2 as pb\n"
         "m = pb.SeldonMessage()\nm.meta.routing['eg-router'] = 1\n"
         "m.meta.tags['score'].number_value = 500\n"
         "m.data.tensor.shape.extend([2, 1]); m.data.tensor.values.extend([1, 0])\n"
         "m.status.info = 'ok'\n"
         "sys.stdout.buffer.write(m.SerializeToString())"],
        capture_output=True, timeout=60, check=True).stdout
    message = proto.SeldonMessage.FromString(raw)
    assert dict(message.meta.routing) == {"eg-router": 1}
    assert message.meta.tags["score"].number_value == 500
    assert list(message.data.tensor.values) == [1.0, 0.0]


@pytest.mark.slow
def test_rest_and_grpc_give_identical_actions(microservice, model_file):
    rest = RestClient(parse_target("127.0.0.1", int(microservice.url.rsplit(":", 1)[1])))
    grpc = GrpcClient("127.0.0.1", microservice.grpc_port)
    try:
        by_rest = np.concatenate([rest.predict(OBS[i:i + 8]).actions for i in range(0, 64, 8)])
        by_grpc = np.concatenate([grpc.predict(OBS[i:i + 8]).actions for i in range(0, 64, 8)])
        one_by_one = np.array([grpc.predict(row[None, :]).actions[0] for row in OBS[:16]])
    finally:
        rest.close()
        grpc.close()
    assert by_rest.tolist() == by_grpc.tolist()
    assert by_grpc.tolist() == ServedPolicy.load(model_file).act(OBS).tolist()
    assert one_by_one.tolist() == by_grpc[:16].tolist()
    assert len(set(by_grpc.tolist())) == 2  # both actions occur: the check is not trivial


@pytest.mark.slow
def test_feedback_reaches_the_model(microservice):
    """Our MODEL counts feedback in its metrics, which seldon-core returns in meta."""
    grpc = GrpcClient("127.0.0.1", microservice.grpc_port)

    def count():
        metrics = grpc.predict(OBS[:1]).response.meta.metrics
        return {m.key: m.value for m in metrics}["cartpole_feedback_total"]

    try:
        before = count()
        reply = grpc.predict(OBS[:2])
        for _ in range(3):
            grpc.feedback(OBS[:2], reply, 1.0)
        assert count() == before + 3
    finally:
        grpc.close()


@pytest.mark.slow
def test_bad_rows_are_a_server_error(microservice):
    grpc = GrpcClient("127.0.0.1", microservice.grpc_port, retry=RetryPolicy(retries=0))
    try:
        with pytest.raises(ServerError, match="answered Predict with"):
            grpc.predict(np.zeros((2, 3)))
        assert grpc.predict(OBS[:1]).actions.shape == (1,)  # still serving
    finally:
        grpc.close()


def test_nothing_listening_is_unreachable_quickly():
    """Quick, checked by the error rather than a clock: gRPC's "failed to connect"
    (UNAVAILABLE) comes at once from the refused connection; waiting out the 2 s
    deadline would read "timed out". One retry, then the error."""
    grpc = GrpcClient("127.0.0.1", free_port(), retry=RetryPolicy(retries=1, backoff=0.05,
                                                                   timeout=2))
    with pytest.raises(Unreachable, match=r"^cannot reach grpc://127\.0\.0\.1:\d+: failed to "
                                          r"connect.*\(after 1 retries\)$"):
        grpc.predict(OBS[:1])
    grpc.close()


@pytest.mark.slow
def test_run_over_rest_and_grpc_plays_the_same_episodes(microservice, tmp_path):
    scores = {}
    for name, args in (("rest", ["--port", microservice.url.rsplit(":", 1)[1]]),
                       ("grpc", ["--grpc-client", "--port", str(microservice.grpc_port)])):
        log = tmp_path / f"{name}.jsonl"
        proc = subprocess.run(
            [EXE, "-e", "6", "--metrics-engine", "log", "--metrics-config",
             json.dumps({"path": str(log)}), "run", "--runners", "2", "--batch", *args],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert f"({name}, 2 runners, batched)" in proc.stdout
        events = [json.loads(line) for line in log.read_text().splitlines()]
        scores[name] = {e["seed"]: e["score"] for e in events if e["event"] == "run_episode"}
    assert scores["rest"] == scores["grpc"] and len(scores["grpc"]) == 6
