"""`cartpole export --format onnx`: onnxruntime answers as the numpy policy does, the Triton
model repository is consistent with the graph, and the command's errors are one line."""

import itertools
import json
import re
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from cartpole.agent.h5 import save_h5
from cartpole.agent.modelfile import sha256_hex
from cartpole.agent.onnx_export import (
    ExportCheckError,
    ExportError,
    ExportMismatchError,
    build_onnx,
    check_against_numpy,
    export_model,
    read_weights,
)
from cartpole.agent.policy import NumpyPolicy
from cartpole.cli import cli, main
from cartpole.errors import ModelMismatchError

# (obs_dim, hidden sizes, n_actions): the default network, one hidden layer, a deeper one
# of another env's shape (Acrobot), and no hidden layer at all.
ARCHITECTURES = [(4, (64, 64), 2), (4, (32,), 2), (6, (64, 32, 16), 3), (4, (), 2)]
ROWS = 10_000


def _weights(obs_dim, hidden, n_actions, seed=0):
    """Glorot-uniform kernels (as training starts) and small non-zero biases."""
    rng = np.random.default_rng(seed)
    sizes = [obs_dim, *hidden, n_actions]
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                    rng.normal(0, 0.1, fan_out).astype(np.float32)]
    return weights


def _model(tmp_path, architecture=(4, (64, 64), 2), seed=0, name="model.h5"):
    weights = _weights(*architecture, seed=seed)
    path = tmp_path / name
    save_h5(path, weights)
    return path, weights


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# -- onnxruntime against the numpy policy ---------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES, ids=lambda a: "-".join(
    map(str, (a[0], *a[1], a[2]))))
def test_onnxruntime_gives_the_numpy_policys_actions_and_q_values(tmp_path, architecture):
    h5, weights = _model(tmp_path, architecture, seed=1)
    result = export_model(h5, tmp_path / "out")
    policy = NumpyPolicy(weights)
    # CartPole-like scales and beyond: positions, velocities, angles of either sign.
    obs = np.random.default_rng(1).normal(0, 1.5, (ROWS, architecture[0])).astype(np.float32)
    want_q = policy.q_values(obs)
    # Every action is chosen often enough for the comparison to mean something.
    assert np.bincount(policy.act(obs), minlength=architecture[2]).min() > ROWS // 10
    for path in (result.onnx_path, result.versioned_path):
        q, action = _session(path).run(None, {"obs": obs})
        assert q.dtype == np.float32 and q.shape == (ROWS, architecture[2])
        assert action.dtype == np.int64 and action.shape == (ROWS,)
        np.testing.assert_allclose(q, want_q, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(action, policy.act(obs))
    assert result.hidden_sizes == architecture[1]


def test_the_graph_is_matmul_add_relu_per_layer_then_argmax(tmp_path):
    h5, _ = _model(tmp_path, (4, (64, 64), 2))
    model = onnx.load(export_model(h5, tmp_path / "out").onnx_path)
    assert [n.op_type for n in model.graph.node] == [
        "MatMul", "Add", "Relu", "MatMul", "Add", "Relu", "MatMul", "Add", "ArgMax"]
    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["source_sha256"] == sha256_hex(h5.read_bytes())
    assert (props["obs_dim"], props["n_actions"]) == ("4", "2")
    onnx.checker.check_model(model, full_check=True)


def test_a_batch_of_one_and_the_pair_checked_like_serving(tmp_path):
    """A trial folder's model.h5 beside its metadata.json, whose digest matches."""
    h5, weights = _model(tmp_path, (4, (16,), 2))
    (tmp_path / "metadata.json").write_text(json.dumps(
        {"model_sha256": sha256_hex(h5.read_bytes()), "env_id": "CartPole-v1"}))
    result = export_model(tmp_path / "model", tmp_path / "out")  # .h5 is optional
    obs = np.array([[0.01, -0.02, 0.03, 0.04]], dtype=np.float32)
    q, action = _session(result.onnx_path).run(None, {"obs": obs})
    np.testing.assert_allclose(q, NumpyPolicy(weights).q_values(obs), atol=1e-6)
    assert action.tolist() == [int(NumpyPolicy(weights).act(obs[0]))]


# -- the Triton model repository ------------------------------------------------------------

ONNX_TO_TRITON = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.INT64: "TYPE_INT64"}
CONFIG_KEYS = {"name", "platform", "max_batch_size", "input", "output", "instance_group",
               "version_policy"}
TENSOR_KEYS = {"name", "data_type", "dims"}


def _parse_pbtxt(text):
    """A strict parser of the protobuf text format's subset config.pbtxt uses: scalars,
    lists [...], messages {...} (with or without ':'), '#' comments. Repeated fields
    become lists; anything else fails."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[-\w.]+|[{}\[\]:,]',
                        re.sub(r"#[^\n]*", "", text))
    assert tokens, "empty config"
    pos = 0

    def value():
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "{":
            return message("}")
        if token == "[":
            items = []
            while tokens[pos] != "]":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items
        if token.startswith('"'):
            return token[1:-1]
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", token), f"unexpected token {token!r}"
        return token  # an enum value

    def message(end):
        nonlocal pos
        fields = {}
        while pos < len(tokens) and tokens[pos] != end:
            key = tokens[pos]
            assert re.fullmatch(r"[a-z_]+", key), f"bad field name {key!r}"
            pos += 1
            if tokens[pos] == ":":
                pos += 1
            item = value()
            fields.setdefault(key, []).extend(item if isinstance(item, list) else [item])
        if end != "":
            assert tokens[pos] == end, f"expected {end!r}"
            pos += 1
        return fields

    fields = message("")
    assert pos == len(tokens)
    return fields


def _config(text):
    """config.pbtxt as a plain structure: Triton's own ModelConfig proto when tritonclient
    has it (an unknown field or bad enum fails to parse), else the strict parser above."""
    try:
        from google.protobuf import json_format, text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        return _structural_config(text)
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    plain = json_format.MessageToDict(config, preserving_proto_field_name=True)
    return {"name": plain["name"], "platform": plain["platform"],
            "max_batch_size": int(plain.get("max_batch_size", 0)),
            "input": [_tensor(t) for t in plain["input"]],
            "output": [_tensor(t) for t in plain["output"]]}


def _tensor(t):
    return {"name": t["name"], "data_type": t["data_type"], "dims": [int(d) for d in t["dims"]]}


def _structural_config(text):
    fields = _parse_pbtxt(text)
    assert set(fields) <= CONFIG_KEYS, set(fields) - CONFIG_KEYS
    for key in ("name", "platform", "max_batch_size"):
        assert len(fields[key]) == 1, key
    for tensor in fields["input"] + fields["output"]:
        assert set(tensor) == TENSOR_KEYS, tensor
        assert len(tensor["name"]) == len(tensor["data_type"]) == 1
        assert all(isinstance(d, int) for d in tensor["dims"])
    return {"name": fields["name"][0], "platform": fields["platform"][0],
            "max_batch_size": fields["max_batch_size"][0],
            "input": [{k: v if k == "dims" else v[0] for k, v in t.items()}
                      for t in fields["input"]],
            "output": [{k: v if k == "dims" else v[0] for k, v in t.items()}
                       for t in fields["output"]]}


def _graph_tensors(values):
    return [{"name": v.name, "data_type": ONNX_TO_TRITON[v.type.tensor_type.elem_type],
             "dims": [d.dim_value if d.HasField("dim_value") else -1
                      for d in v.type.tensor_type.shape.dim]} for v in values]


@pytest.mark.parametrize(("architecture", "name"), [((4, (64, 64), 2), "cartpole"),
                                                    ((6, (8,), 3), "acrobot-v1.b")])
def test_the_triton_layout_matches_the_graph(tmp_path, architecture, name):
    h5, _ = _model(tmp_path, architecture)
    out = tmp_path / "repo"
    result = export_model(h5, out, name=name)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == sorted(
        ["model.onnx", name, f"{name}/config.pbtxt", f"{name}/1", f"{name}/1/model.onnx"])
    assert result.model_dir == out / name
    assert (out / name / "1" / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()
    text = (out / name / "config.pbtxt").read_text()
    config = _config(text)
    assert config["name"] == name  # Triton wants the folder's name
    assert config["platform"] == "onnxruntime_onnx"
    # 0: the batch is the graph's own first dimension, -1 in the dims.
    assert config["max_batch_size"] == 0
    graph = onnx.load(out / name / "1" / "model.onnx").graph
    assert config["input"] == _graph_tensors(graph.input) == [
        {"name": "obs", "data_type": "TYPE_FP32", "dims": [-1, architecture[0]]}]
    assert config["output"] == _graph_tensors(graph.output) == [
        {"name": "q_values", "data_type": "TYPE_FP32", "dims": [-1, architecture[2]]},
        {"name": "action", "data_type": "TYPE_INT64", "dims": [-1]}]
    # What onnxruntime (Triton's backend) sees agrees with the config too.
    session = _session(out / name / "1" / "model.onnx")
    assert [(i.name, i.type) for i in session.get_inputs()] == [("obs", "tensor(float)")]
    assert [(o.name, o.type) for o in session.get_outputs()] == [
        ("q_values", "tensor(float)"), ("action", "tensor(int64)")]
    # The strict fallback reads the same file the same way.
    assert _structural_config(text) == config


def test_the_strict_fallback_refuses_what_triton_would(tmp_path):
    good = 'name: "m"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\n' \
           'input [ { name: "obs" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\n' \
           'output [ { name: "a" data_type: TYPE_INT64 dims: [ -1 ] } ]\n'
    assert _structural_config(good)["input"][0]["dims"] == [-1, 4]
    for bad in (good + "unknown_field: 1\n", good.replace("[ -1, 4 ]", "[ -1, 4"),
                good.replace("data_type: TYPE_FP32", "data_type: fp32"),
                good.replace('name: "obs" ', "")):
        with pytest.raises((AssertionError, IndexError, KeyError)):
            _structural_config(bad)


def test_exporting_again_replaces_the_files(tmp_path):
    first, _ = _model(tmp_path, (4, (8,), 2), seed=1, name="a.h5")
    second, weights = _model(tmp_path, (4, (8,), 2), seed=2, name="b.h5")
    export_model(first, tmp_path / "out")
    result = export_model(second, tmp_path / "out")
    obs = np.ones((3, 4), dtype=np.float32)
    q, _ = _session(result.versioned_path).run(None, {"obs": obs})
    np.testing.assert_allclose(q, NumpyPolicy(weights).q_values(obs), atol=1e-6)
    assert "b.h5" in result.config_path.read_text()
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left


# -- errors ---------------------------------------------------------------------------------


def test_errors_are_typed_with_their_exit_codes(tmp_path):
    h5, _ = _model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"model_sha256": "0" * 64}))
    with pytest.raises(ExportMismatchError) as caught:
        read_weights(h5, settle=0.0)
    assert isinstance(caught.value, ModelMismatchError)
    assert caught.value.exit_code == 2
    with pytest.raises(ExportError, match="no model at"):
        export_model(tmp_path / "missing.h5", tmp_path / "out")
    with pytest.raises(ExportError, match="unknown format 'tflite'"):
        export_model(h5, tmp_path / "out", fmt="tflite")
    assert ExportError.exit_code == 2 and ExportCheckError.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_a_graph_that_computes_something_else_is_not_written(tmp_path):
    weights = _weights(4, (8,), 2)
    model = build_onnx(weights)
    check_against_numpy(model, weights)
    bias = next(i for i in model.graph.initializer if i.name == "q_values/bias")
    bias.CopyFrom(onnx.numpy_helper.from_array(np.array([0.5, -0.5], np.float32), bias.name))
    with pytest.raises(ExportCheckError, match="Q-values differ"):
        check_against_numpy(model, weights)


def _invoke(*args):
    return CliRunner().invoke(cli, ["export", *map(str, args)])


def test_the_command_writes_the_model_and_the_repository(tmp_path):
    h5, _ = _model(tmp_path, (4, (64, 64), 2))
    out = tmp_path / "out"
    result = _invoke(h5, "--format", "onnx", "-o", out, "--name", "cp")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["onnx"] == str(out / "model.onnx")
    assert summary["triton_model"] == str(out / "cp")
    assert summary["hidden_sizes"] == [64, 64]
    assert summary["model_sha256"] == sha256_hex(h5.read_bytes())
    assert (out / "cp" / "config.pbtxt").is_file() and (out / "cp" / "1" / "model.onnx").is_file()
    assert "exported" in result.output and "4 -> 64 -> 64 -> 2" in result.output


def test_help_shows_examples_and_every_option():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == 0
    for text in ("--format", "--out-dir", "--name", "Examples:", "config.pbtxt",
                 "[default: .models/onnx]", "[default: cartpole]"):
        assert text in result.output, text
    assert "export" in CliRunner().invoke(cli, ["--help"]).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing.h5"], "no model at {tmp}/missing.h5"),
        (["{h5}", "--format", "tflite"], "unknown format 'tflite': cartpole export writes onnx"),
        (["{h5}", "--name", "../up"], "model name '../up' must be a folder name"),
        (["{tmp}/junk.h5"], "is not a Keras .h5 of Dense layers"),
        (["{h5}", "-o", "{tmp}/junk.h5"], "exists and is not a directory"),
    ],
    ids=["missing", "format", "name", "not-h5", "out-is-a-file"],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    h5, _ = _model(tmp_path)
    (tmp_path / "junk.h5").write_text("not HDF5\n")
    fill = {"tmp": tmp_path, "h5": h5}
    result = _invoke("-o", tmp_path / "out", *(a.format(**fill) for a in args))  # last -o wins
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: ")
    assert message.format(**fill) in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.h5", "model.h5"]


def test_a_mismatched_pair_is_one_line_exit_2(tmp_path):
    h5, _ = _model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"model_sha256": "f" * 64}))
    result = _invoke(h5, "-o", tmp_path / "out")  # waits the pair's settle time (1 s)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "the pair comes from two different models" in result.output
    assert not (tmp_path / "out").exists()


def test_without_onnx_installed_the_error_names_the_extra(tmp_path, monkeypatch):
    h5, _ = _model(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    result = _invoke(h5, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output == "Error: export to ONNX needs onnx: pip install 'cartpole[onnx]'\n"


def test_the_entry_point_prints_usage_errors_on_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["cartpole", "export", "--bogus"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: ") and "--bogus" in err


# -- imports --------------------------------------------------------------------------------


@pytest.mark.slow
def test_help_does_not_import_onnx_and_export_imports_no_framework(tmp_path):
    """In a fresh interpreter: `cartpole --help` leaves onnx unimported; an export imports
    it, and no TensorFlow, Keras, torch or JAX."""
    h5, _ = _model(tmp_path)
    script = f"""
import sys
from click.testing import CliRunner
from cartpole.cli import cli
assert CliRunner().invoke(cli, ["--help"]).exit_code == 0
assert CliRunner().invoke(cli, ["export", "--help"]).exit_code == 0
print("onnx" in sys.modules)
result = CliRunner().invoke(cli, ["export", {str(h5)!r}, "-o", {str(tmp_path / "out")!r}])
assert result.exit_code == 0, result.output
print("onnx" in sys.modules)
print(sorted(m for m in ("tensorflow", "keras", "torch", "jax") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split("\n")[:3] == ["False", "True", "[]"], done.stdout + done.stderr
