"""``cartpole train --dry-run``: the planned trials of a grid, checked and listed, with
nothing trained or written (in this process)."""

import json

from click.testing import CliRunner

from cartpole.cli import cli


def _dry_run(tmp_path, monkeypatch, *args):
    """``cartpole ... train --dry-run``, in this process: the plan, nothing run."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "runs").exists()
    return json.loads(result.output.strip().splitlines()[-1])


def test_grid_values_are_checked_per_combination(tmp_path, monkeypatch):
    # buffer_size 32 is valid with batch_size 16 and 32, whatever the default batch size
    res = _dry_run(tmp_path, monkeypatch, "train", "--buffer-size", "32", "--batch-size", "16",
                   "32")
    assert [t["hparams"]["batch_size"] for t in res["trials"]] == [16, 32]


def test_yaml_grid_with_ranges(tmp_path, monkeypatch):
    (tmp_path / "grid.yaml").write_text(
        "target_update: 50:100:2\nlearning-rate: [1e-3, 2e-3]\ngroup: 20261122\n"
        "episodes: 3\n")
    res = _dry_run(tmp_path, monkeypatch, "--conf-file", "grid.yaml", "train")
    assert res["group"] == "20261122" and res["state"] == "planned"
    assert sorted((t["hparams"]["target_update"], t["hparams"]["learning_rate"])
                  for t in res["trials"]) == [(50, 1e-3), (50, 2e-3), (100, 1e-3), (100, 2e-3)]
    assert all(t["episodes"] == 3 and t["steps"] is None for t in res["trials"])


def test_a_bad_grid_is_refused_before_any_plan(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--gamma", "0.9", "2", "--dry-run"])
    assert result.exit_code == 2
    assert "gamma must be in (0, 1], got 2.0" in result.output
    assert list(tmp_path.iterdir()) == []


def test_seeds_and_labels_are_listed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--gamma", "0.9", "0.99", "--seeds", "2",
                                      "--steps", "1000", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-2].startswith("dry run: group ") and "would run 4 of 4 trials" in lines[-2]
    res = json.loads(lines[-1])
    assert [(t["trial"], t["seed"], t["label"], t["steps"]) for t in res["trials"]] == [
        ("t000", 0, "gamma=0.9", 1000), ("t001", 1, "gamma=0.9", 1000),
        ("t002", 0, "gamma=0.99", 1000), ("t003", 1, "gamma=0.99", 1000)]
    assert "t003   planned  1     1000 steps  gamma=0.99" in result.output
