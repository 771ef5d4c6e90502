"""A model's .h5 and its .json are published as a pair: a crash or a concurrent reader
gets the old pair or the new one, and every loader refuses a mixed pair."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cartpole.agent import publish
from cartpole.agent.h5 import load_policy, read_dense_weights, save_h5
from cartpole.agent.modelfile import metadata_path, pending_path, read_pair
from cartpole.cli import cli
from cartpole.errors import ModelMismatchError
from cartpole.fileio import write_json
from cartpole.paths import model_paths
from cartpole.serving.errors import MismatchedModel, ModelNotReady
from cartpole.serving.policy import ServedPolicy
from cartpole.serving.seldon import CartpoleModel

EXE = str(Path(sys.executable).with_name("cartpole"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two Keras .h5 files, A and B, whose every kernel weight is 1 and 2 respectively."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for tag, value in (("A", 1.0), ("B", 2.0)):
        weights = [np.full((4, 8), value, np.float32), np.zeros(8, np.float32),
                   np.full((8, 2), value, np.float32), np.zeros(2, np.float32)]
        save_h5(folder / f"{tag}.h5", weights)
        out[tag] = (folder / f"{tag}.h5").read_bytes()
    return out


def _publish(base, models, tag):
    h5, meta = model_paths(base)
    publish.publish_pair_bytes(h5, meta, models[tag], {"tag": tag, "score": 1.0})


def _tag_of_weights(h5):
    return {1.0: "A", 2.0: "B"}[float(read_dense_weights(h5)[0][0, 0])]


def _loaders_refuse(h5):
    with pytest.raises(ModelMismatchError, match="is not the model that"):
        read_pair(h5, settle=0.1)
    with pytest.raises(ModelMismatchError):
        load_policy(h5)
    with pytest.raises(MismatchedModel) as refused:
        ServedPolicy.load(h5)
    assert isinstance(refused.value, ModelNotReady) and refused.value.status == 503
    seldon = CartpoleModel(model_file=str(h5))
    with pytest.raises(ModelMismatchError):
        seldon.load()


def test_a_crash_between_the_renames_is_refused_then_repaired(tmp_path, models, monkeypatch):
    base = tmp_path / ".models" / "cartpole-rl-remote"
    h5, meta = model_paths(base)
    _publish(base, models, "A")

    def crash():
        raise RuntimeError("power cut")

    monkeypatch.setattr(publish, "_between_renames", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        _publish(base, models, "B")
    # The metadata is B's, the .h5 still A's: every loader says so instead of mixing them.
    assert json.loads(meta.read_text())["tag"] == "B"
    assert h5.read_bytes() == models["A"]
    _loaders_refuse(h5)
    with pytest.raises(ModelMismatchError, match="publish was interrupted"):
        read_pair(h5, settle=0)
    # Completing the publish gives the new pair, whole.
    assert publish.repair_pair(h5, meta)
    assert not pending_path(h5).exists()
    assert _tag_of_weights(h5) == "B" == ServedPolicy.load(h5).metadata["tag"]


def test_a_crash_before_the_first_rename_keeps_the_old_pair(tmp_path, models, monkeypatch):
    base = tmp_path / "m"
    h5, meta = model_paths(base)
    _publish(base, models, "A")

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(publish, "write_json", crash)
    with pytest.raises(OSError, match="disk gone"):
        _publish(base, models, "B")
    monkeypatch.undo()
    assert _tag_of_weights(h5) == "A" == ServedPolicy.load(h5).metadata["tag"]
    assert not publish.repair_pair(h5, meta)  # the stray new .h5 is dropped, not used
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5", "m.json"]


KILLER = """
import os, signal, sys
from pathlib import Path
from cartpole.agent import publish
publish._between_renames = lambda: os.kill(os.getpid(), signal.SIGKILL)
{body}
"""


@pytest.mark.slow
def test_sigkill_between_the_renames(tmp_path, models):
    """A real process killed at the hook: the pair on disk is old, new, or refused."""
    base = tmp_path / ".models" / "cartpole-rl-remote"
    h5, meta = model_paths(base)
    _publish(base, models, "A")
    (tmp_path / "B.h5").write_bytes(models["B"])
    body = (f"publish.publish_pair_bytes(Path({str(h5)!r}), Path({str(meta)!r}), "
            f"Path({str(tmp_path / 'B.h5')!r}).read_bytes(), {{'tag': 'B'}})")
    proc = subprocess.run([sys.executable, "-c", KILLER.format(body=body)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    _loaders_refuse(h5)
    assert publish.repair_pair(h5, meta)
    assert _tag_of_weights(h5) == "B" == read_pair(h5).metadata["tag"]


@pytest.mark.slow
def test_a_worker_killed_between_the_renames_then_resumed(tmp_path, quick, models,
                                                        monkeypatch):
    """`cartpole train` killed while it publishes a rerun's pair in the trial folder:
    the folder's pair is refused until --resume completes it; the -f pair is untouched."""
    monkeypatch.chdir(tmp_path)  # a first, complete run, in this process
    first = CliRunner().invoke(cli, ["train", "--group", "g", *quick(steps=600)])
    assert first.exit_code == 0, first.output[-2000:]
    trial_dir = tmp_path / "runs" / "g" / "t000"
    h5, meta = trial_dir / "model.h5", trial_dir / "metadata.json"
    published = (tmp_path / ".models" / "cartpole-rl-remote.h5").read_bytes()
    # An interrupted attempt whose best so far (A) any rerun beats.
    old_meta = json.loads(meta.read_text())
    publish.publish_pair_bytes(h5, meta, models["A"], {**old_meta, "score": -1.0})
    result = json.loads((trial_dir / "result.json").read_text())
    write_json(trial_dir / "result.json", {**result, "status": "interrupted", "score": -1.0})

    body = ("from cartpole.cli import main\n"
            "sys.argv = ['cartpole', 'train', '--resume', 'g']\nmain()")
    proc = subprocess.run([sys.executable, "-c", KILLER.format(body=body)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert h5.read_bytes() == models["A"]  # the old .h5, beside the new metadata
    killed = json.loads(meta.read_text())
    _loaders_refuse(h5)
    assert (tmp_path / ".models" / "cartpole-rl-remote.h5").read_bytes() == published
    load_policy(tmp_path / ".models" / "cartpole-rl-remote.h5")  # still a whole pair

    again = subprocess.run([EXE, "train", "--resume", "g"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "completed the interrupted publish" in again.stderr
    pair = read_pair(h5, settle=0)
    assert h5.read_bytes() != models["A"]
    assert not pending_path(h5).exists()
    # the completed publish was the kept best so far; the rerun (same seed) matched it
    assert pair.metadata["score"] >= killed["score"] > -1.0


def test_concurrent_readers_get_one_pair_or_the_other(tmp_path, models):
    base = tmp_path / "m"
    h5, _ = model_paths(base)
    _publish(base, models, "A")
    stop = threading.Event()

    def publisher():
        tag = "B"
        while not stop.is_set():
            _publish(base, models, tag)
            tag = "A" if tag == "B" else "B"

    thread = threading.Thread(target=publisher)
    thread.start()
    seen = set()
    try:
        for _ in range(300):
            policy = ServedPolicy.load(h5)
            tag = {1.0: "A", 2.0: "B"}[float(policy.network.kernels[0][0, 0])]
            assert policy.metadata["tag"] == tag
            seen.add(tag)
    finally:
        stop.set()
        thread.join()
    assert seen == {"A", "B"}


def test_pairs_without_a_digest_still_load(tmp_path, models):
    """Models from before the digest, or a .h5 alone, have nothing to check against."""
    (tmp_path / "old.h5").write_bytes(models["A"])
    load_policy(tmp_path / "old.h5")
    (tmp_path / "old.json").write_text(json.dumps({"score": 3.0}))
    assert ServedPolicy.load(tmp_path / "old.h5").metadata == {"score": 3.0}


def test_a_trial_folder_pairs_model_h5_with_metadata_json(tmp_path):
    assert metadata_path(tmp_path / "model.h5") == tmp_path / "metadata.json"
    assert metadata_path(tmp_path / "best.h5") == tmp_path / "best.json"
    (tmp_path / "model.json").write_text("{}")  # -f somewhere/model
    assert metadata_path(tmp_path / "model.h5") == tmp_path / "model.json"


def test_files_are_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_json(tmp_path / "result.json", {"a": 1})
    [(_, tmp), (_, src, dst), (_, folder)] = calls
    assert tmp == src and Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".")
    assert dst == str(tmp_path / "result.json")
    assert folder == str(tmp_path)

    calls.clear()
    publish.publish_pair_bytes(tmp_path / "m.h5", tmp_path / "m.json", b"not really h5", {})
    renames = [c for c in calls if c[0] == "replace"]
    assert [Path(c[2]).name for c in renames] == [".m.h5.pending", "m.json", "m.h5"]
    for rename in renames:  # every file was flushed before its rename, the folder after
        at = calls.index(rename)
        origin = rename[1]
        for earlier in reversed(renames[:renames.index(rename)]):
            if earlier[2] == origin:  # the pending .h5 was flushed under its first name
                origin = earlier[1]
        assert ("fsync", origin) in calls[:at]
        assert ("fsync", str(tmp_path)) in calls[at:]
