"""Run-folder names are a contract (users' scripts, the Seldon image read them)."""

from pathlib import Path

import pytest

from cartpole import paths
from cartpole.paths import model_paths


def test_the_names_users_rely_on():
    assert (paths.MODEL_FILE, paths.METADATA_FILE, paths.EVENTS_FILE, paths.RESULT_FILE) == (
        "model.h5", "metadata.json", "events.jsonl", "result.json")
    assert (paths.PLAN_FILE, paths.STATUS_FILE, paths.LEADERBOARD_JSON,
            paths.LEADERBOARD_CSV) == ("plan.json", "status.json", "leaderboard.json",
                                       "leaderboard.csv")
    assert model_paths(paths.DEFAULT_MODEL) == (Path(".models/cartpole-rl-remote.h5"),
                                                Path(".models/cartpole-rl-remote.json"))


@pytest.mark.parametrize(("given", "h5", "meta"), [
    ("m", "m.h5", "m.json"),
    ("m.h5", "m.h5", "m.json"),
    ("dir/m.hdf5", "dir/m.h5", "dir/m.json"),
    ("dir/m.v2", "dir/m.v2.h5", "dir/m.v2.json"),
])
def test_model_paths_take_the_h5_suffix_or_not(given, h5, meta):
    assert model_paths(given) == (Path(h5), Path(meta))

