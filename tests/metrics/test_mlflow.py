"""The mlflow engine against a real `mlflow server` with a SQLite store."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.logs import records
from tests.servers import free_port

pytestmark = [pytest.mark.slow,  # every test here starts a process
              pytest.mark.xdist_group("mlflow")]  # one server per session: one worker

def _train(cwd, config, quick, *args, engines=("log", "mlflow")):
    cmd = [str(Path(sys.executable).with_name("cartpole"))]
    for engine in engines:
        cmd += ["--metrics-engine", engine]
    cmd += ["--metrics-config", json.dumps(config), "train", *quick(steps=700, eval_every=350),
            *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def _events(trial_dir):
    return [json.loads(line) for line in (trial_dir / "events.jsonl").read_text().splitlines()]


def test_group_parent_run_trial_runs_artifacts_registry_and_resume(mlflow, tmp_path, quick):
    config = {"mlflow": {"tracking_uri": mlflow.url, "experiment": "grid-test",
                         "registered_model": "cartpole-test"}}
    proc = _train(tmp_path, config, quick, "--gamma", "0.9", "0.99", "--workers", "2",
                  "--group", "g1")
    assert proc.returncode == 0, proc.stderr
    assert "unreachable" not in proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    client = MlflowClient(mlflow.url)
    experiment = client.get_experiment_by_name("grid-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("cartpole.role") == "group"]
    trials = {r.data.tags["cartpole.trial"]: r for r in runs
              if r.data.tags.get("cartpole.role") == "trial"}
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.metrics["best_score"] == pytest.approx(result["score"])
    assert set(trials) == {"t000", "t001"}
    for trial, run in trials.items():
        trial_dir = tmp_path / "runs" / "g1" / trial
        events = _events(trial_dir)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id  # nested
        assert run.info.status == "FINISHED"
        start = events[0]
        assert run.data.params["hparams.gamma"] == str(start["hparams"]["gamma"])
        assert run.data.params["seed"] == str(start["seed"])
        # Every episode's score, at its env step, and every evaluation.
        history = client.get_metric_history(run.info.run_id, "score")
        episodes = [e for e in events if e["event"] == "episode"]
        assert sorted((m.step, m.value) for m in history) == \
            sorted((e["total_steps"], float(e["score"])) for e in episodes)
        evals = client.get_metric_history(run.info.run_id, "eval_mean")
        assert [m.value for m in sorted(evals, key=lambda m: m.step)] == \
            [e["eval_mean"] for e in events if e["event"] == "eval"]
        files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
        assert files == {"model/model.h5", "model/metadata.json"}
    # The best model is registered, and its files are the trial's own.
    versions = client.search_model_versions("name='cartpole-test'")
    assert len(versions) == 1
    best = trials[result["trial"]]
    assert versions[0].run_id == best.info.run_id
    local = client.download_artifacts(best.info.run_id, "model/model.h5", str(tmp_path))
    assert Path(local).read_bytes() == \
        (tmp_path / "runs" / "g1" / result["trial"] / "model.h5").read_bytes()

    # --resume finds the group's parent run again, and nests the rerun in it.
    (tmp_path / "runs" / "g1" / "t001" / "result.json").unlink()  # as if it had failed
    again = _train(tmp_path, config, quick, "--resume", "g1")
    assert again.returncode == 0, again.stderr
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("cartpole.role") == "group"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("cartpole.role") == "trial"]
    assert sorted(r.data.tags["cartpole.trial"] for r in children) == ["t000", "t001", "t001"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}


def test_server_down_training_completes_with_one_warning(tmp_path, quick):
    config = {"mlflow": {"tracking_uri": f"http://127.0.0.1:{free_port()}"}}
    proc = _train(tmp_path, config, quick, "--gamma", "0.9", "0.99", "--workers", "2",
                  "--group", "g3")
    assert proc.returncode == 0, proc.stderr
    warnings = records(proc.stderr, "WARNING")
    assert len(warnings) == 1 and "mlflow is unreachable" in warnings[0], proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()[:-1]
             if line.startswith("{")]
    for trial in ("t000", "t001"):  # the JSON-lines record is complete
        assert [e for e in lines if e["trial"] == trial] == \
            _events(tmp_path / "runs" / "g3" / trial)


def test_engine_settings_are_checked(tmp_path, quick):
    proc = _train(tmp_path, {"mlflow": {"tracking": "x"}}, quick, "--gamma", "0.9")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "(its settings: tracking_uri, experiment, registered_model, parent_run_id, "
        "username, password, token)")
    assert len(proc.stderr.strip().splitlines()) == 1


def _remote_runs(client, experiment, group):
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.search_runs([experiment_id], filter_string=f"tags.`cartpole.group` = '{group}'")


def test_remote_run_is_one_run_with_params_metrics_and_its_end(mlflow):
    from cartpole.metrics import Recorder
    from cartpole.metrics.engines import EngineContext
    from cartpole.metrics.mlflow import MlflowSink
    from cartpole.metrics.resilient import Resilient
    from tests.metrics import remote_examples as ex

    config = {"tracking_uri": mlflow.url, "experiment": "remote-test"}
    client = MlflowClient(mlflow.url)
    # `cartpole run`, as the agent does it: one sink for the whole run, behind the queue
    # (with time to deliver everything at close, however loaded this machine is).
    run = ex.a_run("run-ok")
    context = EngineContext(group="run-ok", trial="agent")
    recorder = Recorder([Resilient("mlflow", lambda: MlflowSink(context, **config),
                                   close_timeout=120)])
    for event in run:
        recorder.write(event)
    assert recorder.close() == {}  # nothing undelivered
    [found] = _remote_runs(client, "remote-test", "run-ok")
    assert found.info.run_name == "run-ok" and found.info.status == "FINISHED"
    assert found.data.tags["cartpole.role"] == "remote"
    start = run[0]
    assert found.data.params == {
        "target": start["target"], "transport": "rest", "runners": "2", "batch": "false",
        "env": "CartPole-v1", "episodes": "4", "feedback": "episode"}
    episodes = [e for e in run if e["event"] == "run_episode"]
    history = client.get_metric_history(found.info.run_id, "remote_score")
    assert sorted((m.step, m.value) for m in history) == \
        [(e["episode"], e["score"]) for e in episodes]
    steps = client.get_metric_history(found.info.run_id, "remote_steps")
    assert sorted((m.step, m.value) for m in steps) == \
        [(e["episode"], e["steps"]) for e in episodes]
    end = run[-1]
    assert {k: v for k, v in found.data.metrics.items() if k.startswith("final_")} == {
        f"final_{k}": pytest.approx(v) for k, v in end.items()
        if isinstance(v, int | float) and not isinstance(v, bool)}

    # A run that ends with an error is FAILED; an interrupted one KILLED.
    for group, end_keys, status in (("run-err", {"error": "refused", "episodes": 0}, "FAILED"),
                                    ("run-int", {"interrupted": True}, "KILLED")):
        sink = MlflowSink(EngineContext(group=group, trial="agent"), **config)
        sink.write_batch([ex.run_start(group), ex.run_episode(group),
                          ex.run_end(group, **end_keys)])
        sink.close()
        [found] = _remote_runs(client, "remote-test", group)
        assert found.info.status == status

    # The router demo: route metrics per request; its run ends when the sink closes.
    demo = ex.a_router_demo("run-route")
    sink = MlflowSink(EngineContext(group="run-route", trial="router"), **config)
    sink.write_batch(demo)
    sink.close()
    [found] = _remote_runs(client, "remote-test", "run-route")
    assert found.info.status == "FINISHED" and found.data.tags["cartpole.role"] == "remote"
    for metric, key in (("route_share", "share"), ("route_branch", "branch")):
        history = client.get_metric_history(found.info.run_id, metric)
        assert sorted((m.step, m.value) for m in history) == \
            [(e["request"], e[key]) for e in demo]
    # No training-style runs were made for any of them.
    runs = client.search_runs([client.get_experiment_by_name("remote-test").experiment_id])
    assert {r.data.tags["cartpole.role"] for r in runs} == {"remote"}


def test_a_pruned_trial_finishes_with_a_tag_and_the_group_counts_it(mlflow, tmp_path):
    """A trial the pruner stopped is no failure: its run is FINISHED with the tag
    cartpole.pruned, and the parent run counts the pruned trials."""
    from tests.grid.test_search import LEARNS_OR_NOT

    config = {"mlflow": {"tracking_uri": mlflow.url, "experiment": "pruned-test",
                         "registered_model": "cartpole-pruned-test"}}
    proc = subprocess.run([str(Path(sys.executable).with_name("cartpole")),
                           "--metrics-engine", "mlflow", "--metrics-config", json.dumps(config),
                           "train", *LEARNS_OR_NOT, "--prune", "asha", "--group", "gp"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = {t["trial"]: t["status"]
                for t in json.loads(proc.stdout.strip().splitlines()[-1])["trials"]}
    client = MlflowClient(mlflow.url)
    experiment = client.get_experiment_by_name("pruned-test")
    runs = client.search_runs([experiment.experiment_id])
    trials = {r.data.tags["cartpole.trial"]: r for r in runs
              if r.data.tags.get("cartpole.role") == "trial"}
    assert set(trials) == set(statuses) and "pruned" in statuses.values()
    for trial, run in trials.items():
        assert run.info.status == "FINISHED"
        assert (run.data.tags.get("cartpole.pruned") == "true") == (statuses[trial] == "pruned")
    parent = next(r for r in runs if r.data.tags.get("cartpole.role") == "group")
    assert parent.data.metrics["trials_pruned"] == list(statuses.values()).count("pruned")
