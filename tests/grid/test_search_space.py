"""What a search is asked for, checked before anything runs: ranges for samplers, search
options, and the one-line errors of `cartpole train` (in-process, no training)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cartpole.cli import cli
from cartpole.errors import ConfigError
from cartpole.grid.space import parse_space
from cartpole.grid.study import SearchOptions, shown_url


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("learning_rate", ["1e-4:1e-2:log"], FloatDistribution(1e-4, 1e-2, log=True)),
    ("gamma", ["0.9:0.999"], FloatDistribution(0.9, 0.999)),
    ("batch_size", ["32:256"], IntDistribution(32, 256)),
    ("batch_size", ["16:512:log"], IntDistribution(16, 512, log=True)),
    ("batch_size", ["32", "64", "64"], CategoricalDistribution([32, 64])),
    ("hidden_sizes", ["64,64", "128,128"], CategoricalDistribution(["64,64", "128,128"])),
    ("gamma", ["0.95"], None),  # one value: fixed, not sampled
])
def test_ranges_and_lists_become_optuna_distributions(name, raw, expected):
    assert parse_space(name, raw) == expected


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("learning_rate", ["1e-4:1e-2:3"], "low:high or low:high:log"),
    ("epsilon_min", ["0:0.1:log"], "low > 0 on a log scale"),
    ("learning_rate", ["0:1e-2:log"], "learning_rate"),
    ("gamma", ["0.99:0.9"], "need low < high"),
    ("hidden_sizes", ["64:128"], "takes no ranges"),
    ("batch_size", ["32.5:64"], "bad range"),
])
def test_bad_ranges_say_what_is_wrong(name, raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_space(name, raw)


def test_search_options_are_checked():
    assert not SearchOptions().uses_study
    assert SearchOptions(prune="asha").uses_study
    assert SearchOptions("tpe", trials=5).uses_study
    with pytest.raises(ConfigError, match="needs --trials"):
        SearchOptions("tpe")
    with pytest.raises(ConfigError, match="--trials is for"):
        SearchOptions("grid", trials=3)
    with pytest.raises(ConfigError, match="unknown pruner"):
        SearchOptions(prune="hyperband")


def test_a_storage_url_is_shown_without_its_password():
    shown = shown_url("postgresql+psycopg://me:s3cret@db.example:5432/studies")
    assert "s3cret" not in shown and shown.startswith("postgresql+psycopg://me:***@")
    with pytest.raises(ConfigError, match="--storage must be a database URL"):
        shown_url("not a url")


@pytest.mark.parametrize(("args", "message"), [
    (["--search", "tpe"], "--search tpe needs --trials N"),
    (["--trials", "4"], "--trials is for --search random or tpe"),
    (["--search", "random", "--trials", "3", "--learning-rate", "1e-4:1e-2:log",
      "--seeds", "2"], "leave --seeds at 1"),
    (["--search", "random", "--trials", "3"], "needs at least one range or list"),
    (["--learning-rate", "1e-4:1e-2:log"], "low:high:log ranges are for --search random"),
    (["--search", "tpe", "--trials", "3", "--gamma", "0.9:2"], "gamma"),
    (["--prune", "asha", "--storage", "nonsense"], "--storage must be a database URL"),
])
def test_train_refuses_a_bad_search_in_one_line_before_writing(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["train", *args, "--runs-dir", str(tmp_path / "runs"),
                                      "-f", str(tmp_path / "m" / "model")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_dry_run_of_a_pruned_grid_lists_its_trials(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--gamma", "0.9", "0.99", "--prune", "asha",
                                      "--dry-run", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "would run 2 of 2 trials (pruning with asha)" in result.output


def test_an_unreachable_storage_is_one_line_without_its_password(tmp_path):
    """Checked before anything is written: no group folder is left behind."""
    result = CliRunner().invoke(cli, [
        "train", "--prune", "asha", "--runs-dir", str(tmp_path / "runs"),
        "--storage", "postgresql+psycopg://me:s3cret@127.0.0.1:1/studies"])
    assert result.exit_code == 2, result.output
    assert "cannot open the study storage postgresql+psycopg://me:***@127.0.0.1:1" \
        in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_a_password_in_the_query_is_masked_too():
    shown = shown_url("postgresql+psycopg://me@db/studies?password=s3cret&sslmode=require")
    assert "s3cret" not in shown and "sslmode=require" in shown


def test_resume_takes_the_storage_the_plan_names():
    from cartpole.grid.plan import Plan
    from cartpole.grid.session import _plan_storage

    local = Plan("g", [], {"search": {"method": "grid", "prune": "asha", "storage": None}})
    assert _plan_storage(local, "sqlite:////elsewhere.db") is None  # its own study.db
    shared = Plan("g", [], {"search": {"storage": "postgresql+psycopg://me:***@db/s"}})
    assert _plan_storage(shared, None) == "postgresql+psycopg://me:***@db/s"
    assert _plan_storage(shared, "postgresql+psycopg://me:pw@db/s") == \
        "postgresql+psycopg://me:pw@db/s"  # the same database, with its password
    with pytest.raises(ConfigError, match="names postgresql"):
        _plan_storage(shared, "postgresql+psycopg://me:pw@other/s")


def test_a_new_shared_study_is_started_by_one_command_only(tmp_path):
    from cartpole.grid.study import load

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    load("g", url, exclusive=True)
    with pytest.raises(ConfigError, match="at the same moment; run this one again"):
        load("g", url, exclusive=True)
    assert load("g", url).study_name == "g"  # joining is fine


def test_pruning_needs_one_eval_every(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--eval-every", "500", "1000", "--prune",
                                      "median", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "give --eval-every one value" in result.output
