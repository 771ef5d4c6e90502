"""The command line as a user meets it: help, bad input, a real training run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cartpole.cli import cli
from cartpole.hparams import HPARAM_NAMES, HParams
from tests.logs import records
from tests.waiting import stopped, wait_until


def _cartpole(*args, cwd):
    exe = Path(sys.executable).with_name("cartpole")
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env=env)


def test_help_lists_every_option_with_its_default():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"], terminal_width=200)
    assert top.exit_code == 0
    for opt in ("--episodes", "--render", "--log-level", "--log-file", "--conf-file",
                "--metrics-engine", "--metrics-config", "train"):
        assert opt in top.output
    out = runner.invoke(cli, ["train", "--help"], terminal_width=200).output
    lines = {line.split()[0].rstrip(","): line for line in out.splitlines()
             if line.strip().startswith("-")}
    for name in HPARAM_NAMES:
        line = lines[f"--{name.replace('_', '-')}"]
        default = getattr(HParams(), name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        assert f"[default: {shown}]" in line, line
    for opt in ("-f", "--env", "--max-episode-steps", "--seed", "--steps", "--runs-dir",
                "--group", "--gif", "--stop-on-solve", "--threads"):
        assert opt in lines, opt
        assert "[default:" in out.split(opt, 1)[1].split("\n  -", 1)[0], opt
    assert "Examples:" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--gamma", "-0.5"], "gamma must be in (0, 1], got -0.5"),
        (["train", "--env", "NoSuchEnv-v0"], "unknown or unusable env 'NoSuchEnv-v0'"),
        (["train", "--env", "MountainCarContinuous-v0"], "DQN needs a Discrete one"),
        (["train", "-f", "/proc/cartpole/model"], "cannot be written"),
        (["train", "-f", "blocker/model"], "is not a directory"),
        (["train", "--runs-dir", "blocker"], "exists and is not a directory"),
        (["train", "--hidden-sizes", "64,x"], "hidden_sizes must be integers"),
        (["--metrics-config", "{oops", "train"], "--metrics-config is not valid JSON"),
        (["--conf-file", "missing.yaml", "train"], "cannot read config file"),
        (["train", "--group", "../escape"], "group name"),
        (["-r", "train"], "needs a display"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "blocker").write_text("a file in the way\n")
    env_display = os.environ.pop("DISPLAY", None)
    try:
        result = _cartpole(*args, cwd=tmp_path)
    finally:
        if env_display is not None:
            os.environ["DISPLAY"] = env_display
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert result.stdout == ""


def test_conf_file_fills_defaults_and_cli_wins(tmp_path, quick):
    conf = tmp_path / "hp.yaml"
    conf.write_text("gamma: 0.9\nlearning-rate: 0.01\nseed: 3\n")
    result = CliRunner().invoke(cli, ["--conf-file", str(conf), "train", "--gamma", "0.95",
                                      "--batch_size", "32",
                                      "--runs-dir", str(tmp_path / "runs"), "-f",
                                      str(tmp_path / "m"), *quick()])
    assert result.exit_code == 0, result.output
    res = json.loads(result.output.strip().splitlines()[-1])
    assert res["hparams"]["gamma"] == 0.95
    assert res["hparams"]["learning_rate"] == 0.01
    assert res["hparams"]["batch_size"] == 32  # the original's underscore spelling works
    assert res["trials"][0]["seed"] == 3


def test_unknown_conf_key(tmp_path):
    conf = tmp_path / "hp.json"
    conf.write_text('{"gama": 0.9}')
    result = CliRunner().invoke(cli, ["--conf-file", str(conf), "train"])
    assert result.exit_code == 2
    assert "unknown option 'gama' in config file" in result.output


def test_episode_budget_and_gif(tmp_path, quick):
    from PIL import Image

    gif = tmp_path / "episode.gif"
    result = CliRunner().invoke(cli, ["-e", "4", "train", "--runs-dir", str(tmp_path / "runs"),
                                      "-f", str(tmp_path / "m"), "--gif", str(gif), *quick()])
    assert result.exit_code == 0, result.output
    res = json.loads(result.output.strip().splitlines()[-1])
    assert res["trials"][0]["episodes"] == 4
    with Image.open(gif) as im:
        assert im.n_frames > 2
        assert im.size == (300, 200)


@pytest.mark.slow
def test_train_seed_0_end_to_end(tmp_path):
    """The acceptance run: defaults, a real model, reloaded three ways and re-evaluated."""
    result = _cartpole("train", "--seed", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    # Nothing on stderr, whatever the CPU.
    assert result.stderr == ""
    lines = result.stdout.strip().splitlines()
    res = json.loads(lines[-1])
    assert {"group", "model", "score", "hparams", "trials"} <= res.keys()
    assert res["model"] == ".models/cartpole-rl-remote.h5"
    assert lines[0].startswith("steps ")  # plain progress lines when stdout is a pipe
    trial = res["trials"][0]
    assert trial["status"] == "completed"
    assert trial["score"] == res["score"]

    h5 = tmp_path / res["model"]
    meta = json.loads(h5.with_suffix(".json").read_text())
    assert meta["env_id"] == "CartPole-v1"
    assert meta["seed"] == 0
    assert meta["score"] == res["score"]
    assert {"cartpole", "gymnasium", "numpy", "h5py"} <= meta["versions"].keys()
    assert meta["action_space"] == {"type": "Discrete", "n": 2, "start": 0}

    import keras

    from cartpole.agent.h5 import load_policy
    from cartpole.envs.make import make_env
    from cartpole.training.evaluate import evaluate
    from cartpole.training.loop import TrialSpec

    model = keras.models.load_model(h5, compile=False)
    policy = load_policy(h5)  # plain h5py
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_allclose(policy.q_values(obs), model(obs).numpy(), rtol=1e-5, atol=1e-5)

    envs = [make_env() for _ in range(20)]
    # The same evaluation episodes as during training give the same score...
    same = evaluate(envs, policy.act, TrialSpec(seed=0).eval_seeds())
    assert same.mean == pytest.approx(res["score"])
    # ...and the model keeps it on episodes it was never judged on.
    assert res["score"] >= 475
    fresh = evaluate(envs, policy.act, list(range(500, 520)))
    assert fresh.mean >= 475

    group_dir = tmp_path / "runs" / res["group"]
    assert json.loads((group_dir / "leaderboard.json").read_text())[0]["best_trial"] == "t000"
    events = [json.loads(x) for x in (group_dir / "t000" / "events.jsonl").read_text().split("\n")
              if x]
    assert events[0]["event"] == "trial_start"
    assert events[-1]["event"] == "trial_end"


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_model_so_far_and_resume_finishes(tmp_path, quick):
    import signal

    exe = Path(sys.executable).with_name("cartpole")
    proc = subprocess.Popen([str(exe), "train", *quick(steps=8000), "--no-stop-on-solve",
                             "--group", "g1"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = tmp_path / "runs" / "g1" / "t000" / "events.jsonl"
    def first_evaluation():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        return events.exists() and '"event":"eval"' in events.read_text()

    wait_until(first_evaluation, "the first evaluation")
    # Ctrl-C while it is paused, so that it lands mid-training however fast this machine is
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: stopped(proc.pid), "training to pause")
        proc.send_signal(signal.SIGINT)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume g1" in err.strip().splitlines()[-1]
    res = json.loads(out.strip().splitlines()[-1])
    assert res["state"] == "interrupted"
    assert res["trials"][0]["status"] == "interrupted"
    assert res["trials"][0]["steps"] < 8000
    assert res["score"] is not None
    assert (tmp_path / res["model"]).exists()  # the best model so far was published
    status = json.loads((tmp_path / "runs" / "g1" / "status.json").read_text())
    assert status["state"] == "interrupted"

    done = _cartpole("train", "--resume", "g1", "--steps", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    res = json.loads(done.stdout.strip().splitlines()[-1])
    # the plan is replayed as written: its 8,000-step budget, not --steps 10
    assert res["state"] == "completed"
    assert res["trials"][0]["steps"] == 8000


@pytest.mark.slow
def test_render_with_a_stale_display_is_a_clean_error(tmp_path):
    env = {**os.environ, "DISPLAY": ":99"}  # no X server answers there
    exe = Path(sys.executable).with_name("cartpole")
    proc = subprocess.run([str(exe), "-r", "train"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: -r/--render cannot open a window on display :99; "
        "use --gif FILE to record an episode instead"]
    assert list(tmp_path.iterdir()) == []


def test_replacing_a_better_model_warns(tmp_path, quick):
    args = ["--runs-dir", str(tmp_path / "runs"), "-f", str(tmp_path / "m"), *quick()]
    first = CliRunner().invoke(cli, ["train", *args])
    assert first.exit_code == 0
    assert "replacing" not in first.stderr
    meta = tmp_path / "m.json"
    data = json.loads(meta.read_text())
    data["score"] = 1e6  # pretend the model in place is far better
    meta.write_text(json.dumps(data))
    second = CliRunner().invoke(cli, ["train", *args])
    assert second.exit_code == 0
    [warning] = records(second.stderr, "WARNING")
    assert "replacing" in warning and "score 1000000.0" in warning
