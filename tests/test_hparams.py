import json

import pytest

from cartpole.errors import ConfigError
from cartpole.hparams import HParams, coerce, load_conf_file, parse_hidden_sizes


def test_defaults_are_valid_and_frozen():
    hp = HParams()
    assert hp.gamma == 0.99
    with pytest.raises(AttributeError):
        hp.gamma = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gamma", -0.5, "gamma must be in (0, 1]"),
        ("gamma", 1.5, "gamma must be in (0, 1]"),
        ("epsilon", 2.0, "epsilon must be in [0, 1]"),
        ("epsilon_decay", 0.0, "epsilon_decay must be in (0, 1]"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("learning_rate", 0.0, "learning_rate must be > 0"),
        ("hidden_sizes", (64, 0), "hidden_sizes must be one or more positive integers"),
        ("buffer_size", 10, "buffer_size must be >= batch_size"),
    ],
)
def test_invalid_values_raise_config_error(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        HParams(**{field: value})


def test_epsilon_min_cannot_exceed_epsilon():
    with pytest.raises(ConfigError, match="epsilon_min"):
        HParams(epsilon=0.1, epsilon_min=0.2)


def test_from_dict_accepts_dashes_and_coerces():
    hp = HParams.from_dict({"learning-rate": "5e-4", "batch_size": 32.0, "hidden_sizes": "32x16"})
    assert hp.learning_rate == 5e-4
    assert hp.batch_size == 32
    assert isinstance(hp.batch_size, int)
    assert hp.hidden_sizes == (32, 16)


def test_from_dict_rejects_unknown_names():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'gama'"):
        HParams.from_dict({"gama": 0.9})


@pytest.mark.parametrize(
    ("name", "value"), [("batch_size", 1.5), ("gamma", "abc"), ("gamma", True), ("gamma", "nan")]
)
def test_coerce_rejects_bad_types(name, value):
    with pytest.raises(ConfigError):
        coerce(name, value)


def test_parse_hidden_sizes_rejects_words():
    with pytest.raises(ConfigError, match="hidden_sizes"):
        parse_hidden_sizes("64,big")


def test_to_dict_round_trips_through_json():
    hp = HParams(hidden_sizes=(8, 4))
    assert HParams.from_dict(json.loads(json.dumps(hp.to_dict()))) == hp


def test_conf_file_yaml_and_json(tmp_path):
    (tmp_path / "a.yaml").write_text("gamma: 0.95\nlearning-rate: 0.001\n")
    (tmp_path / "b.json").write_text('{"gamma": 0.9}')
    assert load_conf_file(tmp_path / "a.yaml") == {"gamma": 0.95, "learning_rate": 0.001}
    assert load_conf_file(tmp_path / "b.json") == {"gamma": 0.9}


@pytest.mark.parametrize(("name", "text"), [("bad.json", "{nope"), ("list.yaml", "- 1\n- 2\n")])
def test_conf_file_errors_are_config_errors(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError):
        load_conf_file(tmp_path / name)


def test_missing_conf_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_conf_file(tmp_path / "missing.yaml")
