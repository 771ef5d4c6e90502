"""The visdom engine against a real Visdom server process."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cartpole.metrics.visdom.assets import ensure_static_assets
from tests.logs import records
from tests.servers import Visdom
from tests.waiting import stopped, wait_until

pytestmark = pytest.mark.slow  # every test here starts a process



@pytest.fixture
def visdom(tmp_path):
    ensure_static_assets()
    server = Visdom(tmp_path / "visdom")
    yield server
    server.stop()


def _train(cwd, port, quick, *args, engines=("log", "visdom"), stderr=subprocess.PIPE):
    cmd = [str(Path(sys.executable).with_name("cartpole"))]
    for engine in engines:
        cmd += ["--metrics-engine", engine]
    cmd += ["--metrics-config", json.dumps({"visdom": {"port": port}}), "train",
            *quick(steps=None), *args]
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True)


def _events(trial_dir):
    return [json.loads(line) for line in (trial_dir / "events.jsonl").read_text().splitlines()]


def _traces(window):
    return {t["name"]: t for t in window["content"]["data"] if t["name"]}


def test_one_window_per_plot_one_trace_per_trial_and_rerun_reuses_them(visdom, tmp_path,
                                                                      quick):
    visdom.start()
    proc = _train(tmp_path, visdom.port, quick, "--steps", "700", "--gamma", "0.9", "0.99",
                  "--workers", "2", "--group", "gv")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert records(err, "WARNING") == [], err
    windows = visdom.windows("cartpole_gv")
    assert set(windows) == {f"gv_{w}" for w in ("score", "eval", "epsilon", "loss",
                                                 "summary")}
    score = _traces(windows["gv_score"])
    assert set(score) == {"t000 gamma=0.9", "t001 gamma=0.99"}
    for name, trace in score.items():
        events = _events(tmp_path / "runs" / "gv" / name.split()[0])
        episodes = [e for e in events if e["event"] == "episode"]
        assert trace["x"] == [e["total_steps"] for e in episodes]
        assert trace["y"] == [e["score"] for e in episodes]
        evals = [e["eval_mean"] for e in events if e["event"] == "eval"]
        assert _traces(windows["gv_eval"])[name]["y"] == evals
        assert _traces(windows["gv_epsilon"])[name]["y"] == [e["epsilon"] for e in episodes]
        assert _traces(windows["gv_loss"])[name]["y"] == \
            [e["loss"] for e in episodes if e["loss"] is not None]
    bars = windows["gv_summary"]["content"]["data"][0]
    result = json.loads(out.strip().splitlines()[-1])
    assert bars["x"] == ["t000<br>gamma=0.9", "t001<br>gamma=0.99"]
    assert bars["y"] == [t["score"] for t in result["trials"]]

    # Rerun one trial: the same windows, its trace replaced (not appended to).
    (tmp_path / "runs" / "gv" / "t001" / "result.json").unlink()
    proc = _train(tmp_path, visdom.port, quick, "--resume", "gv")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    again = visdom.windows("cartpole_gv")
    assert set(again) == set(windows)
    events = _events(tmp_path / "runs" / "gv" / "t001")
    assert _traces(again["gv_score"])["t001 gamma=0.99"]["x"] == \
        [e["total_steps"] for e in events if e["event"] == "episode"]
    assert _traces(again["gv_score"])["t000 gamma=0.9"] == score["t000 gamma=0.9"]


def test_server_that_comes_up_later_gets_every_event(visdom, tmp_path, quick):
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as stderr:
        proc = _train(tmp_path, visdom.port, quick, "--steps", "6000", "--no-stop-on-solve",
                      "--group", "late", stderr=stderr)
    # Training has started, with nobody listening: the engine has tried and said so.
    wait_until(lambda: "visdom is unreachable" in err_file.read_text(),
               "the visdom engine's warning that nobody listens")
    # Paused while the server starts, so that it comes up mid-run however fast or slow
    # this machine trains (a single trial runs in the `cartpole` process itself).
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: stopped(proc.pid), "the training process to pause")
        assert proc.poll() is None
        visdom.start()
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=300)
    err = err_file.read_text()
    assert proc.returncode == 0, err
    warnings = records(err, "WARNING")
    assert len(warnings) == 1 and "visdom is unreachable" in warnings[0], err
    events = _events(tmp_path / "runs" / "late" / "t000")
    windows = visdom.windows("cartpole_late")
    trace = _traces(windows["late_score"])["t000"]
    assert trace["y"] == [e["score"] for e in events if e["event"] == "episode"]
    logged = [json.loads(line) for line in out.splitlines() if line.startswith('{"ts"')]
    assert logged == events  # the log engine's record is complete too


def test_remote_run_windows_one_trace_per_runner_and_the_router_demo(visdom, tmp_path):
    from cartpole.metrics import Recorder
    from cartpole.metrics.engines import EngineContext, build_sinks
    from cartpole.metrics.visdom.sink import WINDOWS, VisdomSink
    from tests.metrics import remote_examples as ex

    visdom.start()
    run, demo = ex.a_run("run-x"), ex.a_router_demo("run-x")
    recorder = Recorder(build_sinks(("visdom",), {"visdom": {"port": visdom.port}},
                                    EngineContext(group="run-x", trial="agent")))
    for event in run[:3]:
        recorder.write(event)

    def first_batch_shown():  # a first batch goes out: later points are appended to it
        try:
            windows = visdom.windows("cartpole_run-x")
        except OSError:  # no such env yet
            return False
        return "run-x_remote_score" in windows and \
            set(_traces(windows["run-x_remote_score"])) == {"r00", "r01"}

    wait_until(first_batch_shown, "the first batch's traces on the server")
    for event in run[3:] + demo:
        recorder.write(event)
    recorder.close()
    windows = visdom.windows("cartpole_run-x")
    assert set(windows) == {"run-x_remote_score", "run-x_router_branch",
                            "run-x_router_share"}
    score = windows["run-x_remote_score"]
    assert score["title"] == "run-x: remote score per episode"
    traces = _traces(score)
    assert set(traces) == {"r00", "r01"}  # per runner, not the sink's "agent"
    for name, trace in traces.items():
        mine = [e for e in run if e["event"] == "run_episode" and e["trial"] == name]
        assert trace["x"] == [e["episode"] for e in mine]
        assert trace["y"] == [e["score"] for e in mine]
    branch = _traces(windows["run-x_router_branch"])["router"]
    assert branch["mode"] == "markers"
    assert (branch["x"], branch["y"]) == ([e["request"] for e in demo],
                                          [e["branch"] for e in demo])
    assert windows["run-x_router_branch"]["title"] == "run-x: router: branch per request"
    share = _traces(windows["run-x_router_share"])["router"]
    assert (share["x"], share["y"]) == ([e["request"] for e in demo],
                                        [e["share"] for e in demo])

    # Sent again (a retried batch): nothing is appended twice.
    sink = VisdomSink(EngineContext(group="run-x", trial="agent"), port=visdom.port)
    sink.write_batch(run + demo)
    sink.close()
    assert visdom.windows("cartpole_run-x") == windows

    # A training group's windows are still only the training ones.
    from cartpole.metrics.group import GroupInfo

    VisdomSink.open_group(GroupInfo(group="gt", group_dir=tmp_path), port=visdom.port)
    assert set(visdom.windows("cartpole_gt")) == {f"gt_{w}" for w in WINDOWS}
