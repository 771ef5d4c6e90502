import pytest

from cartpole.cli.options import spread_values
from cartpole.errors import ConfigError
from cartpole.grid.spec import build_grid, expand, expand_range, parse_values, varying


def test_three_values_mean_exactly_those_three():
    assert parse_values("gamma", ["0.9", "0.95", "0.99"]) == [0.9, 0.95, 0.99]


def test_range_is_start_stop_count_inclusive():
    assert expand_range("gamma", "0.9:0.99:4") == [0.9, 0.93, 0.96, 0.99]
    assert expand_range("batch_size", "32:128:4") == [32, 64, 96, 128]
    assert parse_values("learning_rate", ["1e-3:3e-3:3", "5e-3"]) == [1e-3, 2e-3, 3e-3, 5e-3]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("gamma", "0.9:0.99", "use start:stop:count"),
    ("hidden_sizes", "64:128:2", "takes no ranges"),
    ("gamma", "0.9:x:3", "use start:stop:count"),
    ("gamma", "0.9:0.99:0", "count must be a whole number"),
    ("gamma", "0.9:0.99:2.5", "count must be a whole number"),
    ("gamma", "0.9:0.99:1", "a count of 1 needs start == stop"),
    ("batch_size", "32:64:4", "are not whole numbers"),
])
def test_bad_ranges(name, text, message):
    with pytest.raises(ConfigError, match=message):
        parse_values(name, [text])


def test_hidden_sizes_lists():
    assert parse_values("hidden_sizes", ["64,64", "128,128"]) == [(64, 64), (128, 128)]
    assert parse_values("hidden_sizes", [64, 64]) == [(64, 64)]  # YAML: one network
    assert parse_values("hidden_sizes", [[32], [64, 64]]) == [(32,), (64, 64)]


def test_unknown_and_empty():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'gama'"):
        parse_values("gama", [0.9])
    with pytest.raises(ConfigError, match="empty list"):
        parse_values("gamma", [])


def test_later_sources_override_and_expand_in_a_stable_order():
    grid = build_grid([{"gamma": [0.5, 0.6], "batch-size": 16}, {"gamma": "0.9"}])
    assert grid == {"gamma": [0.9], "batch_size": [16]}
    combos = expand({"gamma": [0.9, 0.99], "batch_size": [32, 64]})
    assert [(c.gamma, c.batch_size) for c in combos] == [(0.9, 32), (0.9, 64), (0.99, 32),
                                                         (0.99, 64)]
    assert varying(combos) == ["gamma", "batch_size"]


def test_invalid_combination_values_are_caught():
    with pytest.raises(ConfigError, match="gamma must be in"):
        expand({"gamma": [0.9, -1.0]})


def test_spread_values():
    assert spread_values(["--gamma", "0.9", "0.99", "--seed", "1"]) == [
        "--gamma", "0.9", "--gamma", "0.99", "--seed", "1"]
    assert spread_values(["--batch_size", "32", "64"]) == [
        "--batch_size", "32", "--batch_size", "64"]
    assert spread_values(["--gamma=0.9", "0.99"]) == ["--gamma=0.9", "--gamma", "0.99"]
    # negative numbers are values; other options end the list
    assert spread_values(["--gamma", "-0.5", "-1", "-f", "x"]) == [
        "--gamma", "-0.5", "--gamma", "-1", "-f", "x"]
